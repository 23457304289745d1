using System.Diagnostics;
using System.Text;
using EdgeAgent.Bundles;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Updates;

/// <summary>
/// Power-cut safety: tests/EdgeAgent.Updates.CrashRunner boots like the agent (serves the active
/// slot with live inference) and runs or resumes the update; it is killed with SIGKILL at random
/// points inside every phase (triggered by the phase it reports, plus a random delay), several
/// times per update. After each kill the on-disk state must serve the old or the new model, intact
/// and as signed, the new one only after it passed validation; a final run without kill must
/// commit. CI: ≥ 50 kills; EDGEAGENT_LONG_TESTS=1: ≥ 300.
/// </summary>
public sealed class CrashSafetyTests
{
    private static readonly string?[] Triggers = ["SERVING", "downloading", "verifying", "validating", "activating", "observing", "committed"];

    [Fact]
    public async Task An_update_killed_at_random_points_in_every_phase_serves_old_or_new_never_torn_and_finishes_after_restart()
    {
        var wantedKills = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 300 : 50;
        await using var bed = await UpdateTestBed.CreateAsync();
        var v2Bundle = TestModels.Bundle(TestModels.V2, "2.0.0", 2);
        var target = bed.Publish("2.0.0", v2Bundle);
        bed.Server.BytesPerSecond = 400_000; // ~0.25 s of download per run: room to land kills mid-transfer
        var signed = new Dictionary<string, byte[]>
        {
            [UpdateTestBed.Sha(TestModels.V1.OnnxBytes)] = BundleReader.Read(new MemoryStream(TestModels.Bundle(TestModels.V1, "1.0.0", 1))).ManifestJson,
            [UpdateTestBed.Sha(TestModels.V2.OnnxBytes)] = BundleReader.Read(new MemoryStream(v2Bundle)).ManifestJson,
        };
        var template = bed.Directory;
        var rng = new Random(20261122);
        var kills = 0;
        var killedIn = new Dictionary<string, int>();
        for (var chain = 0; kills < wantedKills && chain < wantedKills * 2; chain++)
        {
            var dir = Directory.CreateTempSubdirectory("edgeagent-crash-").FullName;
            try
            {
                CopyDirectory(Path.Combine(template, "models"), Path.Combine(dir, "models"), skipDownloads: true);
                CopyDirectory(bed.MetadataDir, Path.Combine(dir, "tuf"), skipDownloads: false);
                var familyDir = Path.Combine(dir, "models", TestModels.Family);
                var validated = false; // the new model passed validation in this chain
                var killsThisChain = 1 + chain % 3;
                for (var k = 0; k < killsThisChain; k++)
                {
                    var trigger = Triggers[(chain + k * 3) % Triggers.Length]!;
                    var maxDelay = trigger is "SERVING" or "downloading" ? 300 : 30;
                    var run = await RunAsync(bed.Server.BaseUri, dir, target, trigger, rng.Next(maxDelay));
                    // Validation passed once the runner reported it, or once the durable record moved past it
                    // (a kill can land between persisting a transition and printing its event).
                    validated |= run.Lines.Contains("PHASE activating") || new UpdateStateStore(familyDir).ReadRecord()?.Phase is UpdatePhase.Activating or UpdatePhase.Observing or UpdatePhase.Committed;
                    if (run.Killed)
                    {
                        kills++;
                        killedIn[trigger] = killedIn.GetValueOrDefault(trigger) + 1;
                    }
                    else Assert.True(run.ExitCode == 0, $"runner failed: {run.Stderr}");
                    AssertConsistent(familyDir, signed, validated, $"chain {chain}, kill {k} after '{trigger}'");
                }
                var final = await RunAsync(bed.Server.BaseUri, dir, target, killOn: null, 0);
                Assert.True(final.ExitCode == 0, $"chain {chain}: final run failed: {final.Stderr}\n{string.Join('\n', final.Lines)}");
                var done = final.Lines.Single(l => l.StartsWith("DONE ", StringComparison.Ordinal));
                Assert.True(done.StartsWith("DONE Committed failures=0", StringComparison.Ordinal) || done.StartsWith("DONE Idle failures=0", StringComparison.Ordinal), $"chain {chain}: {done}");
                var active = UpdateManager.OpenActive(familyDir)!;
                Assert.Equal("2.0.0", active.Manifest.Version);
                var pointer = new UpdateStateStore(familyDir).ReadPointer()!;
                Assert.True(pointer.ActiveCommitted);
                Assert.Equal(2, pointer.ReleaseCounterFloor);
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        }
        Assert.True(kills >= wantedKills, $"only {kills} kills landed");
        // Every phase saw kills (the trigger is the phase the runner reported just before).
        foreach (var t in Triggers.Take(6)) Assert.True(killedIn.GetValueOrDefault(t!) > 0, $"no kill after '{t}': {string.Join(", ", killedIn)}");
    }

    private static void AssertConsistent(string familyDir, Dictionary<string, byte[]> signed, bool validated, string where)
    {
        var store = new UpdateStateStore(familyDir);
        var record = store.ReadRecord(); // parses: never torn
        Assert.NotNull(store.ReadPointer());
        var active = UpdateManager.OpenActive(familyDir); // re-hashes the model against its manifest
        Assert.NotNull(active);
        var sha = UpdateTestBed.Sha(File.ReadAllBytes(active!.ModelPath));
        Assert.True(signed.ContainsKey(sha), $"{where}: serving an unknown model {sha}");
        Assert.Equal(signed[sha], File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(active.ModelPath)!, "manifest.json")));
        if (active.Manifest.Version == "2.0.0")
        {
            Assert.True(validated, $"{where}: the new model is active but never passed validation");
            Assert.True(record is { Phase: UpdatePhase.Activating or UpdatePhase.Observing or UpdatePhase.Committed }, $"{where}: new model active in phase {record?.Phase}");
        }
    }

    private sealed record Run(List<string> Lines, bool Killed, int ExitCode, string Stderr);

    private static async Task<Run> RunAsync(Uri baseUri, string dir, string target, string? killOn, int delayMs)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(RunnerDll);
        psi.ArgumentList.Add(Path.Combine(dir, "models", TestModels.Family));
        psi.ArgumentList.Add(Path.Combine(dir, "tuf"));
        psi.ArgumentList.Add(baseUri.AbsoluteUri);
        psi.ArgumentList.Add(target);
        psi.ArgumentList.Add(TestModels.HardwareId);
        using var p = Process.Start(psi)!;
        var lines = new List<string>();
        var triggered = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines) lines.Add(line);
                if (killOn is not null && (line.StartsWith(killOn, StringComparison.Ordinal) || line == "PHASE " + killOn)) triggered.TrySetResult();
            }
            triggered.TrySetResult();
        });
        var stderr = p.StandardError.ReadToEndAsync();
        var killed = false;
        if (killOn is not null)
        {
            await triggered.Task.WaitAsync(TimeSpan.FromSeconds(60));
            if (delayMs > 0) await Task.Delay(delayMs);
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: false); // SIGKILL on Linux: no finally blocks, no flush
                killed = true;
            }
        }
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(bound.Token);
        await reader;
        var err = await stderr;
        lock (lines) return new Run([.. lines], killed && p.ExitCode != 0, p.ExitCode, err);
    }

    private static void CopyDirectory(string from, string to, bool skipDownloads)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from))
            if (!(skipDownloads && Path.GetFileName(d) == "download")) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)), skipDownloads);
    }

    private static string RunnerDll
    {
        get
        {
            var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var tfm = baseDir.Name;
            var configuration = baseDir.Parent!.Name;
            var tests = baseDir.Parent.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(tests, "EdgeAgent.Updates.CrashRunner", "bin", configuration, tfm, "EdgeAgent.Updates.CrashRunner.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"crash runner not built at {dll}; build tests/EdgeAgent.Updates.Tests (it builds the runner first)");
        }
    }
}
