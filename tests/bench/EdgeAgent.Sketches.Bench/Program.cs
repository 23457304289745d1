// Sketch benchmarks: KLL update cost against plain array appends (same run), merge of 10,000 sketches,
// serialized size at N = 10^6, and drift-metric cost. Results feed docs/bench/sketches.md.
// Run: dotnet run -c Release --project tests/bench/EdgeAgent.Sketches.Bench [-- --quick]
using System.Diagnostics;
using EdgeAgent.Sketches.Bench;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

bool quick = args.Contains("--quick");
int updateN = quick ? 2_000_000 : 10_000_000;
int repeats = quick ? 3 : 7;
int mergeSketches = 10_000;
int valuesPerShard = quick ? 1_000 : 5_000;

Console.WriteLine($"# EdgeAgent.Sketches bench ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
Console.WriteLine();

var rng = new Random(12345);
var data = new float[updateN];
for (int i = 0; i < data.Length; i++)
{
    data[i] = (float)rng.NextDouble();
}

// Several timed runs after one warm-up run; per value: minimum thread-CPU ns (the work itself, robust to other
// processes on a shared machine) and minimum wall-clock ns.
(double Min, double Median) NsPerValue(Func<object> run)
{
    run();
    var cpu = new double[repeats];
    var wall = new double[repeats];
    for (int r = 0; r < repeats; r++)
    {
        double c0 = ThreadCpuClock.IsAvailable ? ThreadCpuClock.NowNanoseconds() : 0;
        var sw = Stopwatch.StartNew();
        GC.KeepAlive(run());
        wall[r] = sw.Elapsed.TotalNanoseconds / data.Length;
        cpu[r] = ThreadCpuClock.IsAvailable ? (ThreadCpuClock.NowNanoseconds() - c0) / data.Length : wall[r];
    }

    return (cpu.Min(), wall.Min());
}

string Row(string what, (double Min, double Median) t, double baselineMin) =>
    $"| {what} | {t.Min:F2} | {t.Median:F2} | {t.Min / baselineMin:F1} |";

Console.WriteLine($"## Update cost (N = {updateN:N0} uniform floats, {repeats} runs each)");
Console.WriteLine();
Console.WriteLine("| what | CPU ns/value (min) | wall ns/value (min) | CPU × baseline (array store) |");
Console.WriteLine("|---|---:|---:|---:|");
var baseline = NsPerValue(() =>
{
    var arr = new float[data.Length];
    for (int i = 0; i < data.Length; i++)
    {
        arr[i] = data[i];
    }

    return arr;
});
var listAdd = NsPerValue(() =>
{
    var list = new List<float>();
    foreach (float v in data)
    {
        list.Add(v);
    }

    return list;
});
Console.WriteLine(Row("baseline: store into a preallocated float[]", baseline, baseline.Min));
Console.WriteLine(Row("baseline: List<float>.Add (growing)", listAdd, baseline.Min));
foreach (int k in new[] { 100, 200, 400 })
{
    var perValue = NsPerValue(() =>
    {
        var s = new KllFloatsSketch(k, new Random(1));
        foreach (float v in data)
        {
            s.Update(v);
        }

        return s;
    });
    Console.WriteLine(Row($"KllFloatsSketch.Update(float), k = {k}", perValue, baseline.Min));
    var perValueSpan = NsPerValue(() =>
    {
        var s = new KllFloatsSketch(k, new Random(1));
        s.Update(data);
        return s;
    });
    Console.WriteLine(Row($"KllFloatsSketch.Update(ReadOnlySpan<float>), k = {k}", perValueSpan, baseline.Min));
}

var accPerValue = NsPerValue(() =>
{
    var acc = new FeatureAccumulator(200, new Random(1));
    acc.Add(data);
    return acc;
});
Console.WriteLine(Row("FeatureAccumulator.Add (KLL k = 200 + Welford + NaN/Inf counters)", accPerValue, baseline.Min));
Console.WriteLine();

Console.WriteLine($"## Merge of {mergeSketches:N0} sketches (k = 200, {valuesPerShard:N0} normal values each)");
Console.WriteLine();
var shards = new KllFloatsSketch[mergeSketches];
var shardBytes = new byte[mergeSketches][];
var shardRng = new Random(7);
for (int i = 0; i < mergeSketches; i++)
{
    var s = new KllFloatsSketch(200, new Random(i));
    for (int j = 0; j < valuesPerShard; j++)
    {
        s.Update((float)(Math.Sqrt(-2 * Math.Log(1 - shardRng.NextDouble())) * Math.Cos(2 * Math.PI * shardRng.NextDouble())));
    }

    shards[i] = s;
    shardBytes[i] = s.ToByteArray();
}

// Minimum thread-CPU milliseconds over the runs (wall clock where the CPU clock is unavailable).
double MinMs(Func<object> run)
{
    run();
    var times = new double[repeats];
    for (int r = 0; r < repeats; r++)
    {
        double c0 = ThreadCpuClock.IsAvailable ? ThreadCpuClock.NowNanoseconds() : 0;
        var sw = Stopwatch.StartNew();
        GC.KeepAlive(run());
        times[r] = ThreadCpuClock.IsAvailable ? (ThreadCpuClock.NowNanoseconds() - c0) / 1e6 : sw.Elapsed.TotalMilliseconds;
    }

    return times.Min();
}

KllFloatsSketch? merged = null;
double foldMs = MinMs(() =>
{
    var m = new KllFloatsSketch(200, new Random(1));
    foreach (var s in shards)
    {
        m.Merge(s);
    }

    merged = m;
    return m;
});
double bytesMs = MinMs(() =>
{
    var m = new KllFloatsSketch(200, new Random(1));
    foreach (var b in shardBytes)
    {
        m.Merge(KllFloatsSketch.Deserialize(b));
    }

    return m;
});
double copyMs = MinMs(() =>
{
    // Baseline: just touching every shard's bytes once (a memcpy of the same payload).
    long total = 0;
    var buffer = new byte[shardBytes[0].Length * 2];
    foreach (var b in shardBytes)
    {
        b.CopyTo(buffer, 0);
        total += buffer[b.Length - 1];
    }

    return total;
});
Console.WriteLine("| what | CPU ms (min of runs) | µs per sketch |");
Console.WriteLine("|---|---:|---:|");
Console.WriteLine($"| baseline: copy each serialized sketch once | {copyMs:F2} | {copyMs * 1000 / mergeSketches:F2} |");
Console.WriteLine($"| Merge of in-memory sketches into one | {foldMs:F1} | {foldMs * 1000 / mergeSketches:F2} |");
Console.WriteLine($"| Deserialize + Merge (the hub's path) | {bytesMs:F1} | {bytesMs * 1000 / mergeSketches:F2} |");
Console.WriteLine();
Console.WriteLine($"Merged: N = {merged!.N:N0} (exact: {(long)mergeSketches * valuesPerShard:N0}), {merged.NumRetained} retained items, {merged.NumLevels} levels, {merged.SerializedSizeBytes} bytes, median ≈ {merged.GetQuantile(0.5):F4}.");
Console.WriteLine();

Console.WriteLine("## Serialized bytes per feature at N = 1,000,000");
Console.WriteLine();
Console.WriteLine("| k | uniform | normal | sorted | retained items | rank error (99 %) |");
Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
var million = data.AsSpan(0, Math.Min(1_000_000, data.Length)).ToArray();
var normal = new float[million.Length];
var nrng = new Random(3);
for (int i = 0; i < normal.Length; i++)
{
    normal[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - nrng.NextDouble())) * Math.Cos(2 * Math.PI * nrng.NextDouble()));
}

foreach (int k in new[] { 100, 200, 400 })
{
    var u = new KllFloatsSketch(k, new Random(1));
    u.Update(million);
    var g = new KllFloatsSketch(k, new Random(1));
    g.Update(normal);
    var so = new KllFloatsSketch(k, new Random(1));
    for (int i = 0; i < 1_000_000; i++)
    {
        so.Update(i);
    }

    Console.WriteLine($"| {k} | {u.SerializedSizeBytes} | {g.SerializedSizeBytes} | {so.SerializedSizeBytes} | {u.NumRetained} | {KllFloatsSketch.NormalizedRankError(k, false):P2} |");
}

Console.WriteLine();
Console.WriteLine("## Drift metrics per feature (k = 200, reference 10^6 normal, current 10^5 shifted)");
Console.WriteLine();
var refAcc = new FeatureAccumulator(200, new Random(1));
refAcc.Add(normal);
var curAcc = new FeatureAccumulator(200, new Random(2));
curAcc.Add(normal.AsSpan(0, 100_000).ToArray().Select(v => v + 0.2f).ToArray());
FeatureDriftReport? report = null;
int assessRuns = 2000;
DriftAssessment.Assess("x", refAcc, curAcc);
double assessMs = MinMs(() =>
{
    for (int i = 0; i < assessRuns; i++)
    {
        report = DriftAssessment.Assess("x", refAcc, curAcc);
    }

    return report!;
});

Console.WriteLine($"DriftAssessment.Assess (PSI + KS + W1, sorted views cached): {assessMs * 1000 / assessRuns:F1} µs CPU per feature; " +
    $"PSI {report!.Psi!.Value:F4} (±{report.Psi.ErrorBound:F3}), KS {report.Ks!.Statistic:F4} (threshold {report.Ks.Threshold:F4}), W1/σ {report.Wasserstein!.Normalized:F4}.");
