// End to end in-process: synthetic samples (as fast as possible) → windower → INT8 CNN (ONNX Runtime) → gate (all
// local) → outbox commit (SQLite, synchronous=FULL, group commit). Baseline in the same round: engine-only
// inference (lease.Run on a filled window). Usage: see docs/bench/pipeline.md.
using System.Diagnostics;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Windowing;

int windows = Arg("--windows", 20_000);
int rounds = Arg("--rounds", 3);
bool oneCore = !args.Contains("--all-cores");
if (oneCore && OperatingSystem.IsLinux()) Process.GetCurrentProcess().ProcessorAffinity = 1;  // pin to CPU 0: "windows/s on one core"

var model = QdqCnn1d.Generate();
var spec = new WindowSpec { Length = 128, Hop = 64, Channels = ["ax", "ay", "az"], Layout = WindowLayout.ChannelsFirst };
long samples = spec.Length + (long)spec.Hop * (windows - 1);
string root = Path.Combine(Path.GetTempPath(), "edgeagent-pipeline-bench");
Console.WriteLine($"windows/round={windows} samples/round={samples} rounds={rounds} oneCore={oneCore} cpus={Environment.ProcessorCount} load={File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine("round | engine-only win/s | engine CPU µs/inference | pipeline win/s | pipeline CPU µs/window | wall ratio | CPU ratio (engine ÷ pipeline) | committed p50 µs | p99 µs | max µs | decided p99 µs | telemetry dropped");

using var engine = InferenceEngine.Create(OnnxSession.Load(model.OnnxBytes));
await RunRound(-1, Math.Min(windows, 2000));   // warm-up
for (int r = 1; r <= rounds; r++) await RunRound(r, windows);

async Task RunRound(int round, int count)
{
    // Baseline: engine only.
    var (engineRate, engineCpu) = EngineOnly(count);

    // Pipeline.
    if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    Directory.CreateDirectory(root);
    await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = Path.Combine(root, "outbox.db"), BudgetBytes = 512L * 1024 * 1024 });
    var committed = new long[count + 16];
    var decided = new long[count + 16];
    int nc = 0, nd = 0;
    var options = new InferencePipelineOptions
    {
        Model = "har-cnn", Labels = model.Labels, Gate = new GateOptions { ConfidenceThreshold = 0 },
        LatencyObserver = s =>
        {
            if (s.Stage == LatencyStage.Committed) { int i = Interlocked.Increment(ref nc) - 1; if (i < committed.Length) committed[i] = s.Elapsed.Ticks; }
            else { int i = Interlocked.Increment(ref nd) - 1; if (i < decided.Length) decided[i] = s.Elapsed.Ticks; }
        },
    };
    var source = new SyntheticSource(new SyntheticSettings { Seed = 7, RateHz = 50, RealTime = false, MaxSamples = spec.Length + (long)spec.Hop * (count - 1) });
    var pipeline = new InferencePipeline(source, spec, engine, outbox, options);
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    await pipeline.RunAsync(CancellationToken.None);
    var elapsed = watch.Elapsed;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
    double rate = pipeline.Counters.Windows / elapsed.TotalSeconds;
    var c = committed.AsSpan(0, Math.Min(nc, committed.Length)).ToArray();
    var d = decided.AsSpan(0, Math.Min(nd, decided.Length)).ToArray();
    Array.Sort(c);
    Array.Sort(d);
    var (engineRate2, engineCpu2) = EngineOnly(count);   // again after the pipeline: the machine is shared and noisy
    engineRate = (engineRate + engineRate2) / 2;
    engineCpu = (engineCpu + engineCpu2) / 2;
    double pipelineCpuUs = cpu.TotalMicroseconds / pipeline.Counters.Windows;
    if (round < 0) { Console.WriteLine($"warm-up: pipeline {rate:0} win/s, engine {engineRate:0} win/s"); return; }
    Console.WriteLine($"{round} | {engineRate:0} | {engineCpu:0.0} | {rate:0} | {pipelineCpuUs:0.0} | {rate / engineRate:0.00} | {engineCpu / pipelineCpuUs:0.00} | {Us(c, 0.5):0} | {Us(c, 0.99):0} | {Us(c, 1.0):0} | {Us(d, 0.99):0} | {pipeline.Counters.TelemetryDropped}");
    if (pipeline.Counters.TelemetryCommitted + pipeline.Counters.TelemetryDropped != pipeline.Counters.Windows)
        Console.WriteLine($"  WARNING: committed {pipeline.Counters.TelemetryCommitted} + dropped {pipeline.Counters.TelemetryDropped} != windows {pipeline.Counters.Windows}");
}

(double Rate, double CpuUs) EngineOnly(int count)
{
    using var lease = engine.Rent();
    model.Reference.SampleInput(1).CopyTo(lease.Input<float>(0));
    var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < count; i++) lease.Run();
    double rate = count / sw.Elapsed.TotalSeconds;
    return (rate, (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMicroseconds / count);
}

static double Us(long[] sortedTicks, double q) =>
    sortedTicks.Length == 0 ? double.NaN : sortedTicks[Math.Min(sortedTicks.Length - 1, (int)(q * (sortedTicks.Length - 1)))] / 10.0;

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}
