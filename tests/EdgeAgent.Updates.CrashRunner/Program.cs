// Usage: EdgeAgent.Updates.CrashRunner FAMILY_DIR TUF_METADATA_DIR BASE_URL TARGET_PATH HARDWARE_ID
// Prints one line per event, flushed: "SERVING <sha256>", "PHASE <to>", "DONE <phase>". Exit 0 when the
// update reached a terminal phase, 2 on an unexpected error (message on stderr).
using System.Security.Cryptography;
using EdgeAgent.Onnx;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;

var (familyDir, metadataDir, baseUrl, targetPath, hardwareId) = (args[0], args[1], new Uri(args[2]), args[3], args[4]);
var stdout = Console.Out;
void Say(string line)
{
    lock (stdout)
    {
        stdout.WriteLine(line);
        stdout.Flush();
    }
}

try
{
    // Boot as the agent does: serve whatever the slot pointer names, after its hash check.
    var active = UpdateManager.OpenActive(familyDir) ?? throw new InvalidOperationException("nothing installed");
    using var engine = InferenceEngine.Load(active.ModelPath);
    Say($"SERVING {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(active.ModelPath)))} {active.Manifest.Version}");
    var monitor = new ModelHealthMonitor();
    using var stop = new CancellationTokenSource();
    long failures = 0;
    var traffic = Task.Run(() =>
    {
        var rng = new Random(1);
        var input = new float[engine.Inputs[0].ElementCount ?? 0];
        var output = new float[engine.Outputs[0].ElementCount ?? 0];
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 4 - 2);
            var t0 = TimeProvider.System.GetTimestamp();
            try
            {
                engine.Run<float, float>(input, output);
                monitor.Record(input, output, TimeProvider.System.GetElapsedTime(t0));
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failures);
                monitor.RecordFailure();
            }
            Thread.Sleep(1);
        }
    });

    using var fetcher = new HttpTufFetcher();
    var tuf = new TufClient(new TufClientOptions
    {
        MetadataDirectory = metadataDir,
        MetadataBaseUri = new Uri(baseUrl, "metadata/"),
        TargetBaseUri = new Uri(baseUrl, "targets/"),
    }, fetcher);
    var options = new UpdateManagerOptions
    {
        Family = targetPath.Split('/')[1],
        Directory = familyDir,
        HardwareId = hardwareId,
        LatencyRuns = 30,
        DownloadChunkBytes = 16 * 1024,
        DiskReserveBytes = 0,
        Health = new HealthPolicy { Window = TimeSpan.FromMilliseconds(200), MinCalls = 50, PollInterval = TimeSpan.FromMilliseconds(25), MaxWindow = TimeSpan.FromSeconds(20) },
    };
    var manager = new UpdateManager(options, tuf, fetcher, new Uri(baseUrl, "targets/"), engine, monitor, new ConsoleSink(Say));
    UpdateOutcome? outcome = await manager.ResumeAsync(CancellationToken.None);
    if (outcome is { Phase: not EdgeAgent.Updates.State.UpdatePhase.Downloading })
        Say($"RESUMED {outcome.Phase}");
    for (var attempt = 0; outcome is null or { Interrupted: true }; attempt++)
    {
        if (attempt > 20) throw new InvalidOperationException($"download kept failing: {outcome?.Reason}");
        outcome = await manager.ApplyAsync(targetPath, CancellationToken.None);
    }
    stop.Cancel();
    await traffic;
    Say($"DONE {outcome.Phase} failures={Interlocked.Read(ref failures)} reason={outcome.Reason}");
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine(e.ToString());
    return 2;
}

internal sealed class ConsoleSink(Action<string> say) : IUpdateEventSink
{
    public ValueTask PublishAsync(UpdateEvent update, CancellationToken cancellationToken)
    {
        say($"PHASE {update.To}");
        return ValueTask.CompletedTask;
    }
}
