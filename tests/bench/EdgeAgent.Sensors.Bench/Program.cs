using System.Diagnostics;
using System.Globalization;
using EdgeAgent.Sensors.Pipeline;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Windowing;

// Sensor input benchmarks. Each figure is the median of several repetitions; every optimized path is
// compared with a straightforward baseline measured in the same process.
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Sensors.Bench [-- samples]
int samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2_000_000;
const int Repetitions = 5;
const int Length = 128, Hop = 32;
string[] channels = ["ax", "ay", "az"];

Console.WriteLine($"# EdgeAgent sensor benchmarks — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, .NET {Environment.Version}, {Environment.ProcessorCount} cores, {samples:N0} samples per run, window {Length}×3 hop {Hop}");
Console.WriteLine();

// 4096 pre-generated value vectors, cycled, so neither the generator's cost nor cache misses on a huge
// array are part of the windowing figures (live samples arrive in cache).
const int Pool = 4096;
var gen = new SyntheticAccelerometer(new SyntheticSettings { Seed = 1, RateHz = 100 });
var pool = new float[Pool][];
for (int i = 0; i < Pool; i++)
{
    pool[i] = new float[3];
    gen.Next(pool[i]);
}
var spec = new WindowSpec { Length = Length, Hop = Hop, Channels = ["az", "ax", "ay"], Mean = [1f, 0f, 0f], Std = [0.5f, 0.4f, 0.3f] };

Console.WriteLine("| windowing | ns/sample | ns/window | allocated B/window |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var layout in new[] { WindowLayout.ChannelsFirst, WindowLayout.SamplesFirst })
{
    var s = spec with { Layout = layout };
    var result = Measure(() =>
    {
        var stats = new SensorStats();
        var w = new Windower(s, channels, stats, new SampleTimingMonitor(100, 3, 0.1, stats));
        var buffer = new float[s.ElementCount];
        long windows = 0;
        for (int i = 0; i < samples; i++)
            if (w.Push(new SensorSample(i * 10_000_000L, DateTimeOffset.UnixEpoch, pool[i & (Pool - 1)])) == WindowerResult.WindowReady)
            {
                w.WriteWindow(buffer);
                windows++;
            }
        return windows;
    });
    Row($"Windower, {layout}", result);
}
Row("baseline: naive (copy per sample, new array per window)", Measure(() => NaiveWindows(pool, samples, spec)));
Console.WriteLine();

// Line parsing from a real file.
string dir = Path.Combine(Path.GetTempPath(), "eas-bench-" + Environment.ProcessId);
Directory.CreateDirectory(dir);
try
{
    int lines = Math.Min(samples, 1_000_000);
    string csv = Path.Combine(dir, "data.csv"), jsonl = Path.Combine(dir, "data.jsonl");
    using (var c = new StreamWriter(csv))
    using (var j = new StreamWriter(jsonl))
    {
        c.WriteLine("t,ax,ay,az");
        for (int i = 0; i < lines; i++)
        {
            var v = pool[i & (Pool - 1)];
            c.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i * 0.01:0.00},{v[0]},{v[1]},{v[2]}"));
            j.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"t\":{i * 0.01:0.00},\"ax\":{v[0]},\"ay\":{v[1]},\"az\":{v[2]}}}"));
        }
    }
    Console.WriteLine($"| line parsing ({lines:N0} lines from a file) | lines/s | allocated B/line |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var (name, path, format) in new[] { ("LineStreamSource CSV", csv, LineFormat.Csv), ("LineStreamSource JSONL", jsonl, LineFormat.Jsonl) })
    {
        var r = Measure(() =>
        {
            var src = LineStreamSource.ForFile(path, new LineStreamSettings { Format = format, Channels = channels });
            long n = 0;
            foreach (var _ in Drain(src)) n++;
            return n;
        }, countIsOutput: true);
        Console.WriteLine($"| {name} | {r.Count / r.Seconds:N0} | {r.Allocated / (double)r.Count:N1} |");
    }
    var naive = Measure(() =>
    {
        long n = 0;
        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            var f = line.Split(',');
            var v = new[] { float.Parse(f[1], CultureInfo.InvariantCulture), float.Parse(f[2], CultureInfo.InvariantCulture), float.Parse(f[3], CultureInfo.InvariantCulture) };
            if (v.Length == 3) n++;
        }
        return n;
    }, countIsOutput: true);
    Console.WriteLine($"| baseline: File.ReadLines + Split + float.Parse (CSV) | {naive.Count / naive.Seconds:N0} | {naive.Allocated / (double)naive.Count:N1} |");
    Console.WriteLine();
}
finally
{
    Directory.Delete(dir, recursive: true);
}

// Whole pipeline: generator → bounded queue → windower → callback, measured with all threads' allocations.
Console.WriteLine("| pipeline (synthetic, as fast as possible) | samples/s | allocated B/window |");
Console.WriteLine("|---|---:|---:|");
var pipe = Measure(() =>
{
    var src = new SyntheticSource(new SyntheticSettings { Seed = 2, RealTime = false, MaxSamples = samples });
    var p = new SensorPipeline(src, spec);
    var buffer = GC.AllocateArray<float>(spec.ElementCount, pinned: true);
    long windows = 0;
    p.RunAsync(buffer, (_, _) => { windows++; return ValueTask.CompletedTask; }, CancellationToken.None).GetAwaiter().GetResult();
    return windows;
}, allThreads: true);
Console.WriteLine($"| SensorPipeline (Wait policy) | {samples / pipe.Seconds:N0} | {pipe.Allocated / (double)pipe.Count:N1} |");
var genOnly = Measure(() =>
{
    var g = new SyntheticAccelerometer(new SyntheticSettings { Seed = 2 });
    var v = new float[3];
    for (int i = 0; i < samples; i++) g.Next(v);
    return samples / Hop;
}, allThreads: true);
Console.WriteLine($"| baseline: generator alone, no queue/windowing | {samples / genOnly.Seconds:N0} | {genOnly.Allocated / (double)genOnly.Count:N1} |");

static IEnumerable<int> Drain(ISensorSource source)
{
    var e = source.ReadAllAsync(CancellationToken.None).GetAsyncEnumerator();
    try
    {
        while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) yield return 1;
    }
    finally
    {
        e.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

static long NaiveWindows(float[][] pool, int samples, WindowSpec spec)
{
    var history = new List<float[]>();
    long windows = 0;
    int sinceLast = 0;
    int[] map = [2, 0, 1];
    for (int i = 0; i < samples; i++)
    {
        var s = new SensorSample(i * 10_000_000L, DateTimeOffset.UnixEpoch, pool[i & (pool.Length - 1)]);
        history.Add(s.Values.ToArray());
        if (history.Count > spec.Length) history.RemoveAt(0);
        if (history.Count < spec.Length || ++sinceLast < spec.Hop && windows > 0) continue;
        sinceLast = 0;
        var window = new float[spec.ElementCount];
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < spec.Length; t++)
                window[c * spec.Length + t] = (history[t][map[c]] - spec.Mean![c]) / spec.Std![c];
        windows++;
    }
    return windows;
}

(double Seconds, long Count, long Allocated) Measure(Func<long> run, bool countIsOutput = false, bool allThreads = false)
{
    run(); // warm-up
    var runs = new List<(double, long, long)>();
    for (int r = 0; r < Repetitions; r++)
    {
        GC.Collect();
        long before = allThreads ? GC.GetTotalAllocatedBytes(true) : GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        long count = run();
        sw.Stop();
        long after = allThreads ? GC.GetTotalAllocatedBytes(true) : GC.GetAllocatedBytesForCurrentThread();
        runs.Add((sw.Elapsed.TotalSeconds, count, after - before));
    }
    return runs.OrderBy(x => x.Item1).ElementAt(Repetitions / 2);
}

void Row(string name, (double Seconds, long Count, long Allocated) r) =>
    Console.WriteLine($"| {name} | {r.Seconds * 1e9 / samples:N1} | {r.Seconds * 1e9 / r.Count:N0} | {r.Allocated / (double)r.Count:N1} |");
