using System.Diagnostics;
using System.Globalization;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

// Binding-level costs of EdgeAgent.Onnx, all measured in this run on the same model and ORT library:
//   lease      InferenceLease.Run on pre-created ORT values over native buffers (the agent's path)
//   span       InferenceEngine.Run<float,float>(input, shape, output): rent + copy in/out + run + return
//   general    OnnxSession.Run with OnnxTensor inputs: new ORT values, ORT-allocated outputs, managed copies
//              (what a straightforward binding does per call; the baseline)
// and a hot swap under load: workers run continuously while the model is swapped; calls during the swap
// window and failed calls are counted.
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Onnx.Bench [-- iterations]
int iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var info = OnnxRuntime.EnsureLoaded();
Console.WriteLine($"ONNX Runtime {info.Version} ({info.LibraryPath}), {Environment.ProcessorCount} cores, .NET {Environment.Version}, {iterations} timed runs each, 1 intra-op thread");
Console.WriteLine();

byte[] mlp = Mlp(64, 128, 8);
Console.WriteLine("model: float32 MLP 64-128-128-8 (MatMul+Add+Relu), batch 1");
Console.WriteLine($"{"path",-10} {"p50 us",8} {"p99 us",8} {"mean us",8} {"B/call",8}");
using (var engine = InferenceEngine.Create(OnnxSession.Load(mlp)))
{
    using var lease = engine.Rent();
    var x = lease.Input<float>(0);
    for (int i = 0; i < x.Length; i++) x[i] = (i % 11) * 0.1f;
    Report("lease", Measure(iterations, () => lease.Run()));

    var input = x.ToArray();
    var output = new float[8];
    long[] shape = [1, 64];
    Report("span", Measure(iterations, () => engine.Run<float, float>(input, shape, output)));
}
using (var session = OnnxSession.Load(mlp))
{
    var tensor = OnnxTensor.Create("x", [1, 64], Enumerable.Range(0, 64).Select(i => (i % 11) * 0.1f).ToArray());
    OnnxTensor[] inputs = [tensor];
    Report("general", Measure(iterations, () => session.Run(inputs)));
}

Console.WriteLine();
Console.WriteLine("hot swap under load: 2 workers on leases, 20 swaps (each loads, checks and warms up the new session)");
using (var engine = InferenceEngine.Create(OnnxSession.Load(mlp)))
{
    long calls = 0, failed = 0;
    var worst = new long[2];
    using var stop = new CancellationTokenSource();
    var workers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
    {
        using var lease = engine.Rent();
        while (!stop.IsCancellationRequested)
        {
            long t0 = Stopwatch.GetTimestamp();
            try { lease.Run(); } catch { Interlocked.Increment(ref failed); }
            long dt = Stopwatch.GetTimestamp() - t0;
            if (dt > worst[w]) worst[w] = dt;
            Interlocked.Increment(ref calls);
        }
    })).ToArray();
    foreach (var t in workers) t.Start();
    Thread.Sleep(200);
    var swapTimes = new List<double>();
    for (int i = 0; i < 20; i++)
    {
        var session = OnnxSession.Load(mlp);
        long t0 = Stopwatch.GetTimestamp();
        engine.Swap(session);
        swapTimes.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        Thread.Sleep(20);
    }
    stop.Cancel();
    foreach (var t in workers) t.Join();
    swapTimes.Sort();
    Console.WriteLine($"  calls {calls}, failed {failed}, Swap() median {swapTimes[10]:F2} ms (max {swapTimes[^1]:F2} ms), " +
        $"slowest single call during the run {Stopwatch.GetElapsedTime(0, worst.Max()).TotalMicroseconds:F0} us");
}

static (double P50, double P99, double Mean, double BytesPerCall) Measure(int n, Action run)
{
    for (int i = 0; i < Math.Min(n, 5_000); i++) run();
    var t = new long[n];
    long allocated = GC.GetAllocatedBytesForCurrentThread();
    long start = Stopwatch.GetTimestamp();
    for (int i = 0; i < n; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        t[i] = Stopwatch.GetTimestamp() - t0;
    }
    long total = Stopwatch.GetTimestamp() - start;
    double bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n;
    Array.Sort(t);
    static double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
    return (Us(t[n / 2]), Us(t[(int)(n * 0.99)]), Us(total) / n, bytes);
}

static void Report(string name, (double P50, double P99, double Mean, double BytesPerCall) r) =>
    Console.WriteLine($"{name,-10} {r.P50,8:F2} {r.P99,8:F2} {r.Mean,8:F2} {r.BytesPerCall,8:F0}");

static byte[] Mlp(int inputs, int hidden, int outputs)
{
    var random = new Random(7);
    float[] Weights(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * 0.2f).ToArray();
    var b = new OnnxModelBuilder { GraphName = "mlp" };
    b.AddOpset("", 13);
    b.AddInput("x", OnnxElementType.Float, [1, inputs]);
    b.AddOutput("y", OnnxElementType.Float, [1, outputs]);
    int[] sizes = [inputs, hidden, hidden, outputs];
    string previous = "x";
    for (int layer = 0; layer < 3; layer++)
    {
        b.AddInitializer(OnnxTensor.Create($"w{layer}", [sizes[layer], sizes[layer + 1]], Weights(sizes[layer] * sizes[layer + 1])));
        b.AddInitializer(OnnxTensor.Create($"b{layer}", [sizes[layer + 1]], Weights(sizes[layer + 1])));
        b.AddNode("MatMul", [previous, $"w{layer}"], [$"m{layer}"]);
        string added = layer == 2 ? "y" : $"a{layer}";
        b.AddNode("Add", [$"m{layer}", $"b{layer}"], [added]);
        if (layer < 2)
        {
            b.AddNode("Relu", [added], [$"r{layer}"]);
            previous = $"r{layer}";
        }
    }
    return b.Build();
}
