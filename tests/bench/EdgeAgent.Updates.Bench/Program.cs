// dotnet run -c Release --project tests/bench/EdgeAgent.Updates.Bench
// 1. Bytes fetched again after an interruption at 50 % of a ~20 MB bundle (real HTTP on loopback):
//    whole-file TUF download (baseline) vs resumable download after a dropped link and after a
//    simulated power cut (process state lost; only the fsync'ed checkpoint survives).
// 2. "new timestamp" → committed for the INT8 demo models, split by phase.
// 3. The same through the agent's update loop: retained fleet hint on Mosquitto → assignment read through
//    TUF → committed, with the library-level ApplyAsync of the same model measured in the same run as baseline.
using System.Diagnostics;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Download;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Packaging;
using EdgeAgent.Updates.Tests.Infrastructure;

Console.WriteLine($"# EdgeAgent update benchmarks ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
await ResumeBenchAsync();
await PhaseBenchAsync("INT8 QDQ MLP 64→256→256→4", QdqMlp.Generate().OnnxBytes, runs: 5);
await PhaseBenchAsync("INT8 QDQ CNN-1D 3×128→4", QdqCnn1d.Generate().OnnxBytes, runs: 5);
await LoopBenchAsync(runs: 5);
return 0;

// One markdown row: median, min, max of v (sorted in place).
static void Row(string name, List<double> v)
{
    v.Sort();
    Console.WriteLine($"| {name} | {v[v.Count / 2]:0.0} | {v[0]:0.0} | {v[^1]:0.0} |");
}

static async Task LoopBenchAsync(int runs)
{
    var steps = new[] { "hint → downloading (MQTT, queue, TUF refresh, assignment)", "downloading", "verifying", "validating", "activating", "observing → committed" };
    var samples = steps.ToDictionary(p => p, _ => new List<double>());
    var total = new List<double>();
    var direct = new List<double>();
    await using var broker = await EdgeAgent.TestSupport.Mosquitto.MosquittoBroker.StartAsync();
    for (var r = 0; r < runs; r++)
    {
        // Baseline in the same run: the library alone (ApplyAsync from the refresh), same model and settings;
        // taken before the loop run on even rounds and after it on odd ones (disk write-back of the previous
        // round's clean-up would otherwise always land on the same side).
        if (r % 2 == 0) await Baseline(direct);
        await LoopRun(r);
        if (r % 2 == 1) await Baseline(direct);
    }
    Console.WriteLine();
    Console.WriteLine($"## Fleet hint → committed through the agent's update loop: INT8 QDQ MLP 64→256→256→4 of the tests (median of {runs}, ms; observation window 0)");
    Console.WriteLine();
    Console.WriteLine("| step | median ms | min | max |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var p in steps) Row(p, samples[p]);
    Row("total: hint → committed (loop)", total);
    Row("baseline: ApplyAsync → committed (library alone, same run)", direct);


    static async Task Baseline(List<double> direct)
    {
        await using (var lib = await UpdateTestBed.CreateAsync())
        {
            var libTarget = lib.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
            var manager = lib.NewManager(o => o with { LatencyRuns = 200, Health = new HealthPolicy { Window = TimeSpan.Zero, MinCalls = 0, PollInterval = TimeSpan.FromMilliseconds(1) } });
            var s0 = Stopwatch.GetTimestamp();
            var o = await manager.ApplyAsync(libTarget, CancellationToken.None);
            if (o.Phase != EdgeAgent.Updates.State.UpdatePhase.Committed) throw new InvalidOperationException(o.Reason);
            direct.Add(Stopwatch.GetElapsedTime(s0).TotalMilliseconds);
        }
    }

    async Task LoopRun(int r)
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync(tweak: o => o with
        {
            LatencyRuns = 200, Health = new HealthPolicy { Window = TimeSpan.Zero, MinCalls = 0, PollInterval = TimeSpan.FromMilliseconds(1) },
        });
        await using var device = await Connect(broker.Port, "dev-1");
        await using var hub = await Connect(broker.Port, "hub");
        bed.Loop.AttachMqtt(device);
        await bed.StartAsync();
        while (!bed.Loop.ListensOnMqtt) await Task.Delay(10);
        bed.Assign(bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2)));
        var before = bed.Loop.Status.ChecksCompleted;
        var t0 = DateTimeOffset.UtcNow;
        await hub.PublishAsync(new EdgeAgent.Mqtt.MqttApplicationMessage { Topic = EdgeAgent.Agent.Service.UpdateLoop.HintTopic, Payload = "{}"u8.ToArray(), Retain = true });
        while (bed.Loop.Status.ChecksCompleted == before) await Task.Delay(5);
        if (bed.Loop.Status.LastCheck!.Result != "updated") throw new InvalidOperationException(bed.Loop.Status.LastCheck.ToString());
        var at = bed.StoredUpdateEvents().ToDictionary(e => e.GetProperty("to").GetString()!, e => (e.GetProperty("at").GetDateTimeOffset() - t0).TotalMilliseconds);
        samples[steps[0]].Add(at["downloading"]);
        samples[steps[1]].Add(at["verifying"] - at["downloading"]);
        samples[steps[2]].Add(at["validating"] - at["verifying"]);
        samples[steps[3]].Add(at["activating"] - at["validating"]);
        samples[steps[4]].Add(at["observing"] - at["activating"]);
        samples[steps[5]].Add(at["committed"] - at["observing"]);
        total.Add(at["committed"]);
        // Clear the retained hint so the next run's device does not see this one.
        await hub.PublishAsync(new EdgeAgent.Mqtt.MqttApplicationMessage { Topic = EdgeAgent.Agent.Service.UpdateLoop.HintTopic, Payload = Array.Empty<byte>(), Retain = true });
    }

    static async Task<EdgeAgent.Mqtt.MqttClient> Connect(int port, string id)
    {
        var c = new EdgeAgent.Mqtt.MqttClient(new EdgeAgent.Mqtt.MqttClientOptions { Endpoint = EdgeAgent.Mqtt.MqttEndpoint.Tcp("127.0.0.1", port), ClientId = id });
        await c.ConnectAsync();
        return c;
    }
}

static byte[] BigFloatModel()
{
    // Float MLP 64 → 4096 → 1216 → 4: ~21 MB of weights, a realistic "20 MB bundle".
    var rng = new Random(5);
    float[] W(int n) { var w = new float[n]; for (var i = 0; i < n; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.05f; return w; }
    var b = new OnnxModelBuilder { GraphName = "big", ProducerVersion = "1", ModelVersion = 1 };
    b.AddOpset("", 13);
    b.AddInput("input", OnnxElementType.Float, [1, 64]);
    b.AddOutput("probabilities", OnnxElementType.Float, [1, 4]);
    b.AddInitializer(OnnxTensor.Create("w1", [64, 4096], W(64 * 4096)));
    b.AddInitializer(OnnxTensor.Create("w2", [4096, 1216], W(4096 * 1216)));
    b.AddInitializer(OnnxTensor.Create("w3", [1216, 4], W(1216 * 4)));
    b.AddNode("MatMul", ["input", "w1"], ["h1"], "fc1");
    b.AddNode("Relu", ["h1"], ["a1"], "relu1");
    b.AddNode("MatMul", ["a1", "w2"], ["h2"], "fc2");
    b.AddNode("Relu", ["h2"], ["a2"], "relu2");
    b.AddNode("MatMul", ["a2", "w3"], ["logits"], "fc3");
    b.AddNode("Softmax", ["logits"], ["probabilities"], "softmax").WithInt("axis", -1);
    return b.Build();
}

static byte[] BundleOf(byte[] model, string version, long counter, double budgetMs = 1000)
{
    var m = new BundleManifest
    {
        Name = TestModels.Family, Version = version, ReleaseCounter = counter, HardwareIds = [TestModels.HardwareId],
        Windowing = new WindowingSpec { Length = 64, Stride = 32 }, ConfidenceThreshold = 0.4, LatencyBudgetMs = budgetMs,
    };
    BundleDraft.Fill(m, model, 8, 1e-3f, 1, version);
    return BundleBuilder.Build(m, model);
}

static async Task ResumeBenchAsync()
{
    var bundle = BundleOf(BigFloatModel(), "2.0.0", 2);
    await using var bed = await UpdateTestBed.CreateAsync();
    var target = bed.Publish("2.0.0", bundle);
    var half = bundle.Length / 2;
    Console.WriteLine();
    Console.WriteLine($"## Resume after an interruption at 50 % of a {bundle.Length / 1e6:0.0} MB bundle (loopback HTTP)");
    Console.WriteLine();
    Console.WriteLine("| strategy | chunk | bytes received in total | re-downloaded |");
    Console.WriteLine("|---|---|---|---|");

    // Baseline: TUF client whole-file download (no resume): the first half is thrown away.
    {
        var counting = new CountingFetcher(bed.Fetcher);
        var client = new EdgeAgent.Trust.Client.TufClient(new EdgeAgent.Trust.Client.TufClientOptions
        {
            MetadataDirectory = bed.MetadataDir, MetadataBaseUri = bed.Server.MetadataUri, TargetBaseUri = bed.Server.TargetsUri,
        }, counting);
        await client.RefreshAsync(CancellationToken.None);
        var info = await client.GetTargetAsync(target, CancellationToken.None);
        var sentBefore = counting.Bytes;
        bed.Server.CutAfterBytes = half;
        var dest = Path.Combine(bed.Directory, "baseline.bundle");
        try { await client.DownloadTargetAsync(info, dest, CancellationToken.None); } catch (EdgeAgent.Trust.TufException) { }
        await client.DownloadTargetAsync(info, dest, CancellationToken.None);
        var total = counting.Bytes - sentBefore;
        Console.WriteLine($"| TufClient.DownloadTargetAsync (baseline) | whole file | {total:N0} | {total - bundle.Length:N0} |");
    }

    foreach (var chunk in new long[] { 256 * 1024, 1024 * 1024, 4 * 1024 * 1024 })
    {
        foreach (var powerCut in new[] { false, true })
        {
            var client = bed.NewTufClient();
            await client.RefreshAsync(CancellationToken.None);
            var info = await client.GetTargetAsync(target, CancellationToken.None);
            var uri = new Uri(bed.Server.TargetsUri, EdgeAgent.Trust.Client.TufClient.TargetUrlPath(info.File, true));
            var part = Path.Combine(bed.Directory, $"r{chunk}{powerCut}.part");
            long checkpoint = 0;
            var counting = new CountingFetcher(bed.Fetcher);
            var download = new ResumableTargetDownload(counting, new FetchLimits(info.Length, TimeSpan.FromMinutes(5), 512, TimeSpan.FromSeconds(10)), chunk);
            var sentBefore = counting.Bytes;
            if (powerCut)
            {
                // The process dies at 50 %: cancel once half is on disk, no final checkpoint.
                using var cts = new CancellationTokenSource();
                bed.Server.BytesPerSecond = 40_000_000;
                var watcher = Task.Run(async () =>
                {
                    while (!File.Exists(part) || new FileInfo(part).Length < half) await Task.Delay(1);
                    cts.Cancel();
                });
                try { await download.DownloadAsync(uri, part, info.Length, info.Hashes, 0, (p, _) => { checkpoint = p; return Task.CompletedTask; }, cts.Token); }
                catch (OperationCanceledException) { }
                await watcher;
                bed.Server.BytesPerSecond = null;
            }
            else
            {
                bed.Server.CutAfterBytes = half;
                try { await download.DownloadAsync(uri, part, info.Length, info.Hashes, 0, (p, _) => { checkpoint = p; return Task.CompletedTask; }, CancellationToken.None); }
                catch (EdgeAgent.Trust.TufException) { }
            }
            await download.DownloadAsync(uri, part, info.Length, info.Hashes, checkpoint, (p, _) => { checkpoint = p; return Task.CompletedTask; }, CancellationToken.None);
            var total = counting.Bytes - sentBefore;
            Console.WriteLine($"| resumable, {(powerCut ? "power cut (only the checkpoint survives)" : "dropped link")} | {chunk / 1024} KiB | {total:N0} | {total - bundle.Length:N0} |");
            File.Delete(part);
        }
    }
}

static async Task PhaseBenchAsync(string label, byte[] model, int runs)
{
    var phases = new[] { "refresh+find", "downloading", "verifying", "validating", "activating" };
    var samples = phases.ToDictionary(p => p, _ => new List<double>());
    var total = new List<double>();
    for (var r = 0; r < runs; r++)
    {
        await using var bed = await UpdateTestBed.CreateAsync(BundleOf(model, "1.0.0", 1));
        var target = bed.Publish("2.0.0", BundleOf(model, "2.0.0", 2));
        var marks = new List<(string To, long T)>();
        var t0 = Stopwatch.GetTimestamp();
        var sink = new MarkingSink(marks);
        // Observation is a configured wait (10 min by default); measured here with no wait.
        var manager = new UpdateManager(bed.Options(o => o with { LatencyRuns = 200, Health = new HealthPolicy { Window = TimeSpan.Zero, MinCalls = 0, PollInterval = TimeSpan.FromMilliseconds(1) } }),
            bed.NewTufClient(), bed.Fetcher, bed.Server.TargetsUri, bed.Engine, bed.Monitor, sink);
        var outcome = await manager.ApplyAsync(target, CancellationToken.None);
        if (outcome.Phase != EdgeAgent.Updates.State.UpdatePhase.Committed) throw new InvalidOperationException(outcome.Reason);
        var times = marks.ToDictionary(m => m.To, m => Stopwatch.GetElapsedTime(t0, m.T).TotalMilliseconds);
        samples["refresh+find"].Add(times["downloading"]);
        samples["downloading"].Add(times["verifying"] - times["downloading"]);
        samples["verifying"].Add(times["validating"] - times["verifying"]);
        samples["validating"].Add(times["activating"] - times["validating"]);
        samples["activating"].Add(times["observing"] - times["activating"]);
        total.Add(times["committed"]);
    }
    Console.WriteLine();
    Console.WriteLine($"## New timestamp → committed: {label} (median of {runs}, ms; observation window excluded)");
    Console.WriteLine();
    Console.WriteLine("| phase | median ms | min | max |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var p in phases) Row(p, samples[p]);
    Row("total (to committed)", total);

}

/// <summary>Counts the body bytes the client actually received (the server's count includes what a reset discards).</summary>
internal sealed class CountingFetcher(ITufFetcher inner) : ITufFetcher
{
    private long _bytes;
    public long Bytes => Interlocked.Read(ref _bytes);

    public Task<long> FetchAsync(Uri uri, Stream destination, FetchLimits limits, long resumeFrom, CancellationToken cancellationToken) =>
        inner.FetchAsync(uri, new Counting(destination, this), limits, resumeFrom, cancellationToken);

    private sealed class Counting(Stream inner, CountingFetcher owner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) { Interlocked.Add(ref owner._bytes, count); inner.Write(buffer, offset, count); }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Add(ref owner._bytes, buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

internal sealed class MarkingSink(List<(string To, long T)> marks) : EdgeAgent.Updates.Events.IUpdateEventSink
{
    public ValueTask PublishAsync(EdgeAgent.Updates.Events.UpdateEvent update, CancellationToken cancellationToken)
    {
        lock (marks) marks.Add((update.To, Stopwatch.GetTimestamp()));
        return ValueTask.CompletedTask;
    }
}
