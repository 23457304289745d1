using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Windowing;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent demo</c>: what <c>./build.sh demo</c> runs today. Generates the INT8 demo models, checks
/// ONNX Runtime against the C# reference, runs live inference on a synthetic 3-axis accelerometer
/// (source → windower → engine, with injected anomalies) and prints the bench figures.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var dir = new Option<DirectoryInfo>("--dir") { Description = "where models and output go", DefaultValueFactory = _ => new DirectoryInfo("out/demo") };
        var seconds = new Option<double>("--seconds") { Description = "seconds of sensor data to stream", DefaultValueFactory = _ => 120 };
        var realtime = new Option<bool>("--realtime") { Description = "pace the sensor at its real rate (50 Hz) instead of as fast as possible" };
        var seed = new Option<ulong>("--seed") { Description = "sensor seed", DefaultValueFactory = _ => 7 };
        var command = new Command("demo", "Generate the INT8 demo models, run live inference on synthetic sensor data, print the benchmark")
        {
            dir, seconds, realtime, seed,
        };
        CliRunner.SetAction(command, (parse, ct) => RunAsync(parse.GetValue(dir)!, parse.GetValue(seconds), parse.GetValue(realtime),
            parse.GetValue(seed), ct));
        return command;
    }

    private static async Task<int> RunAsync(DirectoryInfo dir, double seconds, bool realtime, ulong seed, CancellationToken ct)
    {
        if (!(seconds > 0)) throw new CliUsageException("--seconds must be positive");
        var o = Console.Out;
        var runtime = OnnxRuntime.EnsureLoaded();
        o.WriteLine($"EdgeAgent {AgentCli.Version} demo — ONNX Runtime {runtime.Version} ({runtime.LibraryPath})");
        o.WriteLine();

        o.WriteLine("[1/3] Generating the INT8 QDQ demo models and checking ONNX Runtime against the C# reference");
        string models = Path.Combine(dir.FullName, "models");
        Directory.CreateDirectory(models);
        var generated = new Dictionary<string, (GeneratedModel Model, string Path)>();
        foreach (var (kind, file) in new[] { ("cnn", "activity-cnn-int8.onnx"), ("mlp", "mlp-int8.onnx") })
        {
            var model = MakeModelCommand.Generate(kind);
            string path = Path.Combine(models, file);
            await File.WriteAllBytesAsync(path, model.OnnxBytes, ct);
            generated[kind] = (model, path);
            var (maxDiff, agreement) = CompareWithReference(model, path, samples: 200);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"      {file,-24} {model.OnnxBytes.Length,9:N0} bytes   max |Δp| vs reference {maxDiff:F4} (tolerance {model.ProbabilityTolerance})   argmax agreement {agreement:P1}"));
            if (maxDiff > model.ProbabilityTolerance)
                throw new InvalidDataException($"{file}: ONNX Runtime differs from the reference by {maxDiff:F4} > {model.ProbabilityTolerance}");
        }
        o.WriteLine();

        o.WriteLine($"[2/3] Live inference: synthetic accelerometer (50 Hz, idle → walk → run → vibration fault, anomalies injected)");
        o.WriteLine($"      → 128-sample windows, hop 64 → activity CNN, {seconds:F0} s of sensor data{(realtime ? " in real time" : " as fast as possible")}");
        await StreamAsync(generated["cnn"].Path, generated["cnn"].Model, seconds, realtime, seed, ct);
        o.WriteLine();

        o.WriteLine("[3/3] Benchmark (batch 1, one intra-op thread, steady-state engine path)");
        foreach (var kind in new[] { "cnn", "mlp" })
        {
            var r = BenchCommand.Measure(generated[kind].Path, threads: 1, iterations: 5000, warmup: 500, ct);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"      {Path.GetFileName(r.Model),-24} p50 {r.P50Us,7:F1} µs   p99 {r.P99Us,7:F1} µs   {r.RunsPerSecond,9:N0}/s   {r.ManagedBytesPerInference:F1} B/inference"));
        }
        o.WriteLine($"      agent RSS {ProcessMemoryText()}");
        o.WriteLine();
        o.WriteLine($"Models are in {models}. Try: edgeagent inspect --model {generated["cnn"].Path}");
        o.WriteLine("Compare with raw ONNX Runtime: ./build.sh bench ort");
        return CliRunner.Ok;
    }

    private static (float MaxDiff, double Agreement) CompareWithReference(GeneratedModel model, string path, int samples)
    {
        using var engine = InferenceEngine.Load(path);
        using var lease = engine.Rent();
        float maxDiff = 0;
        int agree = 0;
        for (int i = 0; i < samples; i++)
        {
            float[] input = model.Reference.SampleInput((ulong)i);
            input.CopyTo(lease.Input<float>(0));
            lease.Run();
            var ort = lease.Output<float>(0);
            float[] expected = model.Reference.Run(input);
            for (int j = 0; j < expected.Length; j++) maxDiff = Math.Max(maxDiff, MathF.Abs(ort[j] - expected[j]));
            if (QuantMath.ArgMax(ort) == QuantMath.ArgMax(expected)) agree++;
        }
        return (maxDiff, (double)agree / samples);
    }

    private static async Task StreamAsync(string modelPath, GeneratedModel model, double seconds, bool realtime, ulong seed, CancellationToken ct)
    {
        const double rate = 50;
        var settings = new SyntheticSettings
        {
            Seed = seed, RateHz = rate, RealTime = realtime, MaxSamples = (long)(seconds * rate),
            Schedule = [new(SyntheticActivity.Idle, 15), new(SyntheticActivity.Walk, 15), new(SyntheticActivity.Run, 15), new(SyntheticActivity.VibrationFault, 15)],
            AnomalyRatePerSecond = 0.05,
        };
        await using var source = new SyntheticSource(settings);
        var spec = new WindowSpec { Length = (int)model.InputShape[2], Hop = 64, Channels = SyntheticAccelerometer.ChannelNames };
        var windower = new Windower(spec, source.Channels, source.Stats, new SampleTimingMonitor(rate, gapPeriods: 5, rateTolerance: 0.1, source.Stats));
        using var engine = InferenceEngine.Load(modelPath);
        using var lease = engine.Rent();
        var latencies = new List<double>();
        int correct = 0, shown = 0;
        long? firstNs = null;
        long started = Stopwatch.GetTimestamp();
        var o = Console.Out;
        o.WriteLine("      sensor time  true activity    predicted          confidence   inference");
        await foreach (var sample in source.ReadAllAsync(ct))
        {
            firstNs ??= sample.TimeNs;
            if (windower.Push(sample) != WindowerResult.WindowReady) continue;
            var info = windower.WriteWindow(lease.Input<float>(0));
            long t0 = Stopwatch.GetTimestamp();
            lease.Run();
            double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            latencies.Add(us);
            var p = lease.Output<float>(0);
            int best = QuantMath.ArgMax(p);
            string truth = Label(source.Generator.CurrentActivity);
            bool ok = truth == model.Labels[best];
            if (ok) correct++;
            if (shown < 8 || info.Sequence % 6 == 0)
            {
                shown++;
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"      {(info.LastSampleTimeNs - firstNs.Value) / 1e9,9:F2} s  {truth,-16} {model.Labels[best],-18} {p[best],8:P0}   {us,7:F1} µs{(ok ? "" : "  ✗")}"));
            }
        }
        double wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        latencies.Sort();
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"      {latencies.Count} windows in {wall:F2} s wall ({latencies.Count / wall:N0} windows/s); inference p50 {Pct(latencies, 0.5):F1} µs, p99 {Pct(latencies, 0.99):F1} µs"));
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"      agreement with the generator's true activity: {(double)correct / Math.Max(1, latencies.Count):P0} (windows that straddle a change of activity count as misses)"));
        o.WriteLine($"      samples accepted {source.Stats.Accepted}, bad {source.Stats.BadTotal} (NaN bursts injected: {source.Generator.NanBurstsInjected}; counted and skipped, never fatal), gaps {source.Stats.Gaps}");
    }

    private static string Label(SyntheticActivity a) => a switch
    {
        SyntheticActivity.Idle => "idle",
        SyntheticActivity.Walk => "walk",
        SyntheticActivity.Run => "run",
        SyntheticActivity.VibrationFault => "vibration_fault",
        _ => a.ToString(),
    };

    private static double Pct(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[(int)(p * (sorted.Count - 1))];

    private static string ProcessMemoryText() =>
        $"{Diagnostics.ProcessMemory.ResidentBytes() / 1048576.0:F1} MiB (peak {Diagnostics.ProcessMemory.PeakResidentBytes() / 1048576.0:F1} MiB)";
}
