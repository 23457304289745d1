// Sketch benchmarks: KLL update cost against plain array appends (same run), merge of 10,000 sketches,
// serialized size at N = 10^6, and drift-metric cost. Results feed docs/bench/sketches.md.
// Run: dotnet run -c Release --project tests/bench/EdgeAgent.Sketches.Bench [-- --quick]
using System.Diagnostics;
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

// Median of several timed runs after one warm-up run; returns ns per value.
double NsPerValue(Func<object> run)
{
    run();
    var times = new double[repeats];
    for (int r = 0; r < repeats; r++)
    {
        var sw = Stopwatch.StartNew();
        GC.KeepAlive(run());
        times[r] = sw.Elapsed.TotalNanoseconds / data.Length;
    }

    Array.Sort(times);
    return times[repeats / 2];
}

Console.WriteLine($"## Update cost (N = {updateN:N0} uniform floats, median of {repeats} runs)");
Console.WriteLine();
Console.WriteLine("| what | ns/value | × baseline (array append) |");
Console.WriteLine("|---|---:|---:|");
double baseline = NsPerValue(() =>
{
    var arr = new float[data.Length];
    for (int i = 0; i < data.Length; i++)
    {
        arr[i] = data[i];
    }

    return arr;
});
double listAdd = NsPerValue(() =>
{
    var list = new List<float>();
    foreach (float v in data)
    {
        list.Add(v);
    }

    return list;
});
Console.WriteLine($"| baseline: store into a preallocated float[] | {baseline:F2} | 1.0 |");
Console.WriteLine($"| baseline: List<float>.Add (growing) | {listAdd:F2} | {listAdd / baseline:F1} |");
foreach (int k in new[] { 100, 200, 400 })
{
    double perValue = NsPerValue(() =>
    {
        var s = new KllFloatsSketch(k, new Random(1));
        foreach (float v in data)
        {
            s.Update(v);
        }

        return s;
    });
    Console.WriteLine($"| KllFloatsSketch.Update(float), k = {k} | {perValue:F2} | {perValue / baseline:F1} |");
    double perValueSpan = NsPerValue(() =>
    {
        var s = new KllFloatsSketch(k, new Random(1));
        s.Update(data);
        return s;
    });
    Console.WriteLine($"| KllFloatsSketch.Update(ReadOnlySpan<float>), k = {k} | {perValueSpan:F2} | {perValueSpan / baseline:F1} |");
}

double accPerValue = NsPerValue(() =>
{
    var acc = new FeatureAccumulator(200, new Random(1));
    acc.Add(data);
    return acc;
});
Console.WriteLine($"| FeatureAccumulator.Add (KLL k = 200 + Welford + NaN/Inf counters) | {accPerValue:F2} | {accPerValue / baseline:F1} |");
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

double MedianMs(Func<object> run)
{
    run();
    var times = new double[repeats];
    for (int r = 0; r < repeats; r++)
    {
        var sw = Stopwatch.StartNew();
        GC.KeepAlive(run());
        times[r] = sw.Elapsed.TotalMilliseconds;
    }

    Array.Sort(times);
    return times[repeats / 2];
}

KllFloatsSketch? merged = null;
double foldMs = MedianMs(() =>
{
    var m = new KllFloatsSketch(200, new Random(1));
    foreach (var s in shards)
    {
        m.Merge(s);
    }

    merged = m;
    return m;
});
double bytesMs = MedianMs(() =>
{
    var m = new KllFloatsSketch(200, new Random(1));
    foreach (var b in shardBytes)
    {
        m.Merge(KllFloatsSketch.Deserialize(b));
    }

    return m;
});
double copyMs = MedianMs(() =>
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
Console.WriteLine("| what | total ms | µs per sketch |");
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
var asw = Stopwatch.StartNew();
for (int i = 0; i < assessRuns; i++)
{
    report = DriftAssessment.Assess("x", refAcc, curAcc);
}

Console.WriteLine($"DriftAssessment.Assess (PSI + KS + W1, sorted views cached): {asw.Elapsed.TotalMicroseconds / assessRuns:F1} µs per feature; " +
    $"PSI {report!.Psi!.Value:F4} (±{report.Psi.ErrorBound:F3}), KS {report.Ks!.Statistic:F4} (threshold {report.Ks.Threshold:F4}), W1/σ {report.Wasserstein!.Normalized:F4}.");
