using System.Diagnostics;
using System.Globalization;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;

// EdgeAgent.OnnxFormat figures, each against a baseline measured in the same run:
//   1. ModelInfo.Parse over every model of libonnx-testdata   vs  SHA-256 of the same bytes (what a bundle check costs anyway)
//   2. TensorProto decode (raw_data, typed float_data)          vs  memcpy of the same bytes
//   3. .npy read of a sensor window                             vs  memcpy
//   4. JSON tensor parse of a sensor window                      vs  JsonDocument.Parse alone
//   5. generated INT8 QDQ models in ORT vs their float baselines (latency, 1 intra-op thread), and ORT vs the
//      C# reference (accuracy) over many seeded inputs
// Usage: dotnet tests/bench/EdgeAgent.OnnxFormat.Bench/bin/Release/net10.0/EdgeAgent.OnnxFormat.Bench.dll [inputs]
int inputs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3000;
Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, load average {LoadAverage()}");
Console.WriteLine();

// 1. Model summaries.
var models = Directory.EnumerateFiles("/usr/share/libonnx-testdata/data", "*.onnx", SearchOption.AllDirectories)
    .Select(File.ReadAllBytes).ToArray();
long totalBytes = models.Sum(m => (long)m.Length);
Console.WriteLine($"1. {models.Length} libonnx-testdata models, {totalBytes / 1e6:F1} MB in memory");
var parse = Measure(20, () => { foreach (var m in models) ModelInfo.Parse(m); });
var walk = Measure(20, () => { foreach (var m in models) System.Security.Cryptography.SHA256.HashData(m); });
Console.WriteLine($"   ModelInfo.Parse  {parse.Median * 1e3:F1} ms per pass = {totalBytes / parse.Median / 1e6:F0} MB/s, {parse.Median / models.Length * 1e6:F1} µs/model");
Console.WriteLine($"   SHA-256          {walk.Median * 1e3:F1} ms per pass = {totalBytes / walk.Median / 1e6:F0} MB/s (baseline)");
var big = QdqMlp.Generate(new QdqMlpOptions { FloatBaseline = true, HiddenSizes = [1024, 1024] }).OnnxBytes;
var bigParse = Measure(200, () => ModelInfo.Parse(big));
var bigHash = Measure(200, () => System.Security.Cryptography.SHA256.HashData(big));
Console.WriteLine($"   one {big.Length / 1e6:F1} MB float MLP: ModelInfo.Parse {bigParse.Median * 1e6:F1} µs, SHA-256 {bigHash.Median * 1e6:F0} µs (baseline)");
Console.WriteLine();

// 2. TensorProto decode.
var weights = OnnxTensor.Create("w", [256, 256], Enumerable.Range(0, 65536).Select(i => MathF.Sin(i)).ToArray());
byte[] raw = TensorProtoCodec.Write(weights, TensorDataEncoding.Raw);
byte[] typed = TensorProtoCodec.Write(weights, TensorDataEncoding.Typed);
var dst = new byte[raw.Length];
var rawT = Measure(200, () => TensorProtoCodec.Read(raw));
var typedT = Measure(200, () => TensorProtoCodec.Read(typed));
var copyT = Measure(200, () => raw.AsSpan().CopyTo(dst));
Console.WriteLine($"2. TensorProto float32[256,256] ({raw.Length / 1024} KiB)");
Console.WriteLine($"   raw_data    {rawT.Median * 1e6:F0} µs  ({raw.Length / rawT.Median / 1e9:F2} GB/s)");
Console.WriteLine($"   float_data  {typedT.Median * 1e6:F0} µs  ({typed.Length / typedT.Median / 1e9:F2} GB/s)");
Console.WriteLine($"   memcpy      {copyT.Median * 1e6:F1} µs  (baseline)");
Console.WriteLine();

// 3 + 4. A sensor window as .npy and as JSON.
var window = OnnxTensor.Create("window", [1, 3, 128], QdqCnn1d.SyntheticWindow(1).Window);
byte[] npy = NpyFormat.Write(window);
string json = JsonTensorWriter.ToJson(window);
byte[] jsonBytes = System.Text.Encoding.UTF8.GetBytes(json);
var npyT = Measure(2000, () => NpyFormat.Read(npy));
var npyCopy = Measure(2000, () => npy.AsSpan().CopyTo(dst));
var jsonT = Measure(2000, () => JsonTensorReader.Parse(jsonBytes, OnnxElementType.Float));
var jsonDoc = Measure(2000, () => { using var d = System.Text.Json.JsonDocument.Parse(jsonBytes); });
Console.WriteLine($"3. .npy float32[1,3,128] ({npy.Length} B): read {npyT.Median * 1e6:F2} µs, memcpy {npyCopy.Median * 1e6:F2} µs (baseline)");
Console.WriteLine($"4. JSON float32[1,3,128] ({jsonBytes.Length} B): JsonTensorReader {jsonT.Median * 1e6:F1} µs, JsonDocument.Parse alone {jsonDoc.Median * 1e6:F1} µs (baseline)");
Console.WriteLine();

// 5. Generated models.
var rt = OnnxRuntime.EnsureLoaded();
Console.WriteLine($"5. generated models in ONNX Runtime {rt.Version}, batch 1, 1 intra-op thread, {inputs} seeded inputs for accuracy");
Console.WriteLine($"   {"model",-12} {"variant",-6} {"weights",9} {"ORT p50 µs",11} {"ref p50 µs",11} {"max |Δp|",10} {"mean |Δp|",10} {"argmax",8} {"vs float",9}");
foreach (var (name, q, f) in new[]
{
    ("qdq-mlp", QdqMlp.Generate(), QdqMlp.Generate(new QdqMlpOptions { FloatBaseline = true })),
    ("qdq-cnn1d", QdqCnn1d.Generate(), QdqCnn1d.Generate(new QdqCnn1dOptions { FloatBaseline = true })),
})
{
    foreach (var (variant, model) in new[] { ("int8", q), ("float", f) })
    {
        using var engine = InferenceEngine.Create(OnnxSession.Load(model.OnnxBytes, sourceName: name));
        float[] x = model.Reference.SampleInput(1);
        var probabilities = new float[model.Labels.Count];
        var ortT = Measure(5000, () => engine.Run<float, float>(x, probabilities));
        var refT = Measure(200, () => model.Reference.Run(x));

        double max = 0, sum = 0;
        int agree = 0, agreeFloat = 0;
        for (ulong seed = 1; seed <= (ulong)inputs; seed++)
        {
            float[] input = model.Reference.SampleInput(seed);
            engine.Run<float, float>(input, probabilities);
            float[] expected = model.Reference.Run(input);
            for (int c = 0; c < expected.Length; c++)
            {
                double d = Math.Abs(probabilities[c] - expected[c]);
                max = Math.Max(max, d);
                sum += d;
            }
            if (QuantMath.ArgMax(probabilities) == QuantMath.ArgMax(expected)) agree++;
            if (QuantMath.ArgMax(probabilities) == QuantMath.ArgMax(f.Reference.Run(input))) agreeFloat++;
        }
        long weightBytes = ModelInfo.Parse(model.OnnxBytes).InitializerBytes;
        Console.WriteLine($"   {name,-12} {variant,-6} {weightBytes,9:N0} {ortT.Median * 1e6,11:F1} {refT.Median * 1e6,11:F1} {max,10:E2} {sum / (inputs * expected0(model)),10:E2} {100.0 * agree / inputs,7:F2}% {100.0 * agreeFloat / inputs,8:F2}%");
    }
}
Console.WriteLine("   (argmax: ORT vs the model's own reference; vs float: ORT vs the float baseline's reference)");

static int expected0(GeneratedModel m) => m.Labels.Count;

static (double Median, double Min) Measure(int reps, Action action)
{
    for (int i = 0; i < Math.Max(3, reps / 10); i++) action(); // warm-up (JIT tiers, caches)
    var times = new double[reps];
    for (int i = 0; i < reps; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        action();
        times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }
    Array.Sort(times);
    return (times[reps / 2], times[0]);
}

static string LoadAverage()
{
    try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
    catch (IOException) { return "?"; }
}
