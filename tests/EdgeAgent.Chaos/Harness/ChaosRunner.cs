using System.Diagnostics;
using System.Globalization;

namespace EdgeAgent.Chaos.Harness;

/// <summary>Where logs go and whether passing runs keep them.</summary>
public sealed record ChaosLogPolicy(string Root, bool KeepPassing)
{
    /// <summary>A fresh directory under the system temp dir; passing runs delete theirs, failures keep them.</summary>
    public static ChaosLogPolicy Default() => new(
        Path.Combine(Path.GetTempPath(), "edgeagent-chaos-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)), false);
}

/// <summary>
/// Runs scenarios one after the other and turns each into a <see cref="ChaosVerdict"/>: a scenario
/// passes only when it completed and recorded no problem. A failing scenario's log directory is
/// kept and named in the verdict line.
/// </summary>
public static class ChaosRunner
{
    public static async Task<ChaosVerdict> RunAsync(IChaosScenario scenario, int seed, int rounds, bool isShort, ChaosLogPolicy logs,
        TextWriter console, CancellationToken cancellationToken = default)
    {
        var dir = Path.Combine(logs.Root, $"{scenario.Name}-{seed}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var run = new ChaosRun(scenario.Name, seed, rounds, isShort, dir, console);
        run.Log($"start: seed {seed}, rounds {rounds}, {(isShort ? "short" : "full")} form; logs in {dir}");
        var clock = Stopwatch.StartNew();
        string summary;
        try
        {
            summary = await scenario.RunAsync(run, cancellationToken).ConfigureAwait(false);
        }
        catch (ChaosEnvironmentException e)
        {
            run.Fail(e.Message);
            summary = "could not run";
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            run.Log(e.ToString());
            run.Fail($"scenario aborted: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            summary = "aborted";
        }
        clock.Stop();
        var problems = run.Problems;
        bool passed = problems.Count == 0;
        run.Log($"{(passed ? "PASS" : "FAIL")} after {clock.Elapsed.TotalSeconds:0.0} s: {summary}");
        foreach (var p in problems) run.Log("  - " + p);
        run.CloseLog();
        string? kept = passed && !logs.KeepPassing ? null : dir;
        if (kept is null)
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return new ChaosVerdict(scenario.Name, passed, $"seed={seed} {summary} ({clock.Elapsed.TotalSeconds:0.0} s)", problems, kept, clock.Elapsed);
    }
}
