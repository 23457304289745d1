// The chaos suite (docs/CHAOS.md): `dotnet EdgeAgent.Chaos.dll [--scenario NAME]... [--rounds N] [--seed N]
// [--short] [--keep-logs DIR] [--list]`. Prints one verdict line per scenario,
// `CHAOS <scenario> PASS|FAIL <summary>`; exit 0 when all pass, 1 when any fails, 2 on bad arguments.
using System.Globalization;
using EdgeAgent.Chaos.Harness;

var names = new List<string>();
int? rounds = null, seed = null;
bool isShort = false;
string? keepLogs = null;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--scenario": names.Add(Value()); break;
            case "--rounds": rounds = PositiveInt(Value(), "--rounds"); break;
            case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--short": isShort = true; break;
            case "--keep-logs": keepLogs = Path.GetFullPath(Value()); break;
            case "--list":
                foreach (var e in ScenarioCatalog.All) Console.WriteLine($"{e.Scenario.Name,-15} {e.Scenario.Description} (rounds: {e.FullRounds}, short {e.ShortRounds})");
                return 0;
            case "-h" or "--help":
                Console.WriteLine("usage: EdgeAgent.Chaos [--scenario NAME]... [--rounds N] [--seed N] [--short] [--keep-logs DIR] [--list]");
                return 0;
            default: throw new ArgumentException($"unknown argument '{args[i]}' (try --help)");
        }
    }
    foreach (var n in names) ScenarioCatalog.Find(n);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine("chaos: " + e.Message);
    return 2;
}

var entries = names.Count == 0 ? ScenarioCatalog.All : names.Select(ScenarioCatalog.Find).ToList();
var logs = keepLogs is null ? ChaosLogPolicy.Default() : new ChaosLogPolicy(keepLogs, KeepPassing: true);
int baseSeed = seed ?? Random.Shared.Next(1, 1_000_000);
Console.WriteLine($"chaos: {entries.Count} scenario(s), seed {baseSeed}, {(isShort ? "short" : "full")} form, logs under {logs.Root}");
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var verdicts = new List<ChaosVerdict>();
foreach (var entry in entries)
{
    var verdict = await ChaosRunner.RunAsync(entry.Scenario, baseSeed, rounds ?? (isShort ? entry.ShortRounds : entry.FullRounds), isShort, logs, Console.Out, cancel.Token);
    Console.WriteLine(verdict.Line);
    verdicts.Add(verdict);
    if (cancel.IsCancellationRequested) break;
}
int failed = verdicts.Count(v => !v.Passed);
Console.WriteLine($"chaos: {verdicts.Count - failed} passed, {failed} failed (seed {baseSeed}; replay with --seed {baseSeed})");
return failed == 0 ? 0 : 1;

static int PositiveInt(string text, string option)
{
    int n = int.Parse(text, CultureInfo.InvariantCulture);
    return n > 0 ? n : throw new ArgumentException($"{option} must be at least 1 (got {n})");
}
