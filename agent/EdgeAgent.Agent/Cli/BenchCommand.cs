using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeAgent.Agent.Diagnostics;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent bench --model F</c>: latency of the agent's steady-state inference path (a rented
/// <see cref="InferenceLease"/>: pre-created ORT values over native buffers, one ORT call per run) on
/// this device, batch 1. tests/bench/ort-baseline compares it with raw ONNX Runtime called from C.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "ONNX model file", Required = true };
        var threads = new Option<int>("--threads") { Description = "intra-op threads", DefaultValueFactory = _ => 1 };
        var iterations = new Option<int>("--iterations", "-n") { Description = "timed runs", DefaultValueFactory = _ => 10_000 };
        var warmup = new Option<int>("--warmup") { Description = "untimed runs first", DefaultValueFactory = _ => 1_000 };
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var command = new Command("bench", "Measure inference latency, throughput, allocations and memory for a model")
        {
            model, threads, iterations, warmup, json,
        };
        CliRunner.SetAction(command, (parse, ct) =>
        {
            var result = Measure(parse.GetValue(model)!.FullName, parse.GetValue(threads), parse.GetValue(iterations),
                parse.GetValue(warmup), ct);
            Print(result, parse.GetValue(json));
            return Task.FromResult(CliRunner.Ok);
        });
        return command;
    }

    public sealed record BenchResult(string Model, string OrtVersion, int Threads, int Iterations, double P50Us, double P90Us,
        double P99Us, double MaxUs, double MeanUs, double RunsPerSecond, double ManagedBytesPerInference, long RssBytes,
        long PeakRssBytes);

    // Fully optimized from the first call: no tier-up or on-stack replacement (which can allocate once)
    // in the middle of the timed loop.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static BenchResult Measure(string modelPath, int threads, int iterations, int warmup, CancellationToken ct = default)
    {
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (iterations < 1) throw new CliUsageException("--iterations must be at least 1");
        if (warmup < 0) throw new CliUsageException("--warmup must not be negative");
        string version = OnnxRuntime.EnsureLoaded().Version;
        // Batch 1: dynamic dimensions (typically the batch) are bound to 1.
        using var engine = InferenceEngine.Load(modelPath, new OnnxSessionOptions { IntraOpThreads = threads },
            new InferenceEngineOptions { DynamicDimensionValue = 1 });
        using var lease = engine.Rent();
        FillInputs(lease);

        for (int i = 0; i < warmup; i++) lease.Run();
        ct.ThrowIfCancellationRequested();

        var latencies = new long[iterations];
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            lease.Run();
            latencies[i] = Stopwatch.GetTimestamp() - t0;
        }
        long total = Stopwatch.GetTimestamp() - start;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Array.Sort(latencies);
        double toUs = 1e6 / Stopwatch.Frequency;
        double Pct(double p) => latencies[(int)(p * (iterations - 1))] * toUs;
        return new BenchResult(modelPath, version, threads, iterations, Pct(0.50), Pct(0.90), Pct(0.99),
            latencies[^1] * toUs, total * toUs / iterations, iterations / (total / (double)Stopwatch.Frequency),
            (double)allocated / iterations, ProcessMemory.ResidentBytes(), ProcessMemory.PeakResidentBytes());
    }

    /// <summary>Deterministic, non-trivial input values (the same pattern as the C baseline) so quantized
    /// kernels do real work; zeros for non-float inputs.</summary>
    private static void FillInputs(InferenceLease lease)
    {
        for (int i = 0; i < lease.Inputs.Count; i++)
        {
            if (lease.Inputs[i].ElementType != OnnxElementType.Float) continue;
            var span = lease.Input<float>(i);
            for (int j = 0; j < span.Length; j++) span[j] = (float)(unchecked((uint)j * 2654435761u) % 1000) / 500f - 1f;
        }
    }

    private static void Print(BenchResult r, bool json)
    {
        if (json)
        {
            // One line, so scripts can append runs to a file and parse each line.
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"tool\":\"edgeagent\",\"model\":\"{System.Text.Encodings.Web.JavaScriptEncoder.Default.Encode(r.Model)}\",\"ortVersion\":\"{r.OrtVersion}\",\"threads\":{r.Threads},\"iterations\":{r.Iterations},\"p50Us\":{r.P50Us:F3},\"p90Us\":{r.P90Us:F3},\"p99Us\":{r.P99Us:F3},\"maxUs\":{r.MaxUs:F3},\"meanUs\":{r.MeanUs:F3},\"runsPerSecond\":{r.RunsPerSecond:F1},\"managedBytesPerInference\":{r.ManagedBytesPerInference:F2},\"rssBytes\":{r.RssBytes},\"peakRssBytes\":{r.PeakRssBytes}}}"));
            return;
        }
        var o = Console.Out;
        o.WriteLine($"model        {r.Model}");
        o.WriteLine($"runtime      ONNX Runtime {r.OrtVersion}, {r.Threads} intra-op thread(s), batch 1");
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"latency      p50 {r.P50Us:F1} µs   p90 {r.P90Us:F1} µs   p99 {r.P99Us:F1} µs   max {r.MaxUs:F1} µs   ({r.Iterations:N0} runs)"));
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput   {r.RunsPerSecond:N0} inferences/s"));
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocations  {r.ManagedBytesPerInference:F2} managed bytes per inference"));
        o.WriteLine($"memory       RSS {r.RssBytes / 1048576.0:F1} MiB, peak {r.PeakRssBytes / 1048576.0:F1} MiB");
    }
}
