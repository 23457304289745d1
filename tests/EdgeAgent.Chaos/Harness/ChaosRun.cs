using System.Globalization;

namespace EdgeAgent.Chaos.Harness;

/// <summary>
/// The context of one scenario run: seeded randomness (the seed is printed so a failure can be
/// replayed), rounds, the short (CI) or full form, the log directory every process writes into, and
/// the problems found so far. Thread-safe for <see cref="Log"/> and <see cref="Fail"/>.
/// </summary>
public sealed class ChaosRun
{
    private readonly List<string> _problems = [];
    private readonly StreamWriter _log;
    private readonly TextWriter _console;

    public ChaosRun(string scenario, int seed, int rounds, bool isShort, string logDirectory, TextWriter console)
    {
        Scenario = scenario;
        Seed = seed;
        Rounds = rounds;
        IsShort = isShort;
        LogDirectory = logDirectory;
        Directory.CreateDirectory(logDirectory);
        Random = new Random(seed);
        _console = console;
        _log = new StreamWriter(Path.Combine(logDirectory, "chaos.log")) { AutoFlush = true };
    }

    public string Scenario { get; }

    /// <summary>Seed of <see cref="Random"/>; <c>--seed</c> replays a run.</summary>
    public int Seed { get; }

    /// <summary>How many times the fault is injected.</summary>
    public int Rounds { get; }

    /// <summary>CI form: shorter outages and load phases, same checks.</summary>
    public bool IsShort { get; }

    /// <summary>Where the processes' logs, databases and the scenario's own log go (kept on failure).</summary>
    public string LogDirectory { get; }

    /// <summary>Seeded; use only from the scenario's own flow (not thread-safe).</summary>
    public Random Random { get; }

    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_problems) return [.. _problems];
        }
    }

    /// <summary>A sub-directory of the log directory for one process or fixture.</summary>
    public string Subdirectory(string name)
    {
        var path = Path.Combine(LogDirectory, name);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A progress line: into chaos.log, and to the console prefixed with the scenario name.</summary>
    public void Log(string message)
    {
        var line = $"{DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {message}";
        lock (_log) _log.WriteLine(line);
        lock (_console) _console.WriteLine($"  [{Scenario}] {message}");
    }

    /// <summary>Records a violated invariant; the verdict becomes FAIL and the logs are kept.</summary>
    public void Fail(string problem)
    {
        lock (_problems) _problems.Add(problem);
        Log("PROBLEM: " + problem);
    }

    /// <summary>Records <paramref name="problem"/> when <paramref name="condition"/> is false.</summary>
    public void Check(bool condition, string problem)
    {
        if (!condition) Fail(problem);
    }

    internal void CloseLog()
    {
        lock (_log) _log.Dispose();
    }
}
