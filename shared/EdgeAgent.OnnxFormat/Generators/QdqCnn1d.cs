using System.Globalization;

namespace EdgeAgent.OnnxFormat.Generators;

/// <summary>Settings for <see cref="QdqCnn1d.Generate"/>. The defaults give the documented sensor-window model.</summary>
public sealed record QdqCnn1dOptions
{
    public ulong Seed { get; init; } = 7;

    /// <summary>Sensor axes (input channels); named by <see cref="ChannelNames"/>.</summary>
    public IReadOnlyList<string> ChannelNames { get; init; } = ["ax", "ay", "az"];

    /// <summary>Samples per window (input length).</summary>
    public int WindowLength { get; init; } = 128;

    /// <summary>Samples between the starts of consecutive windows (metadata for the windower).</summary>
    public int HopLength { get; init; } = 64;

    public double SampleRateHz { get; init; } = 50;

    public int Conv1Filters { get; init; } = 16;

    public int Conv2Filters { get; init; } = 32;

    /// <summary>Kernel size of both convolutions (odd; padding keeps the length, stride 2 on the second halves it).</summary>
    public int KernelSize { get; init; } = 5;

    public IReadOnlyList<string> Labels { get; init; } = ["idle", "walk", "run", "vibration_fault"];

    public bool DynamicBatch { get; init; }

    public long ModelVersion { get; init; } = 1;

    public int CalibrationSamples { get; init; } = 128;

    /// <summary>Also declare every QuantizeLinear output (int8) as a graph output, for step-by-step checks.</summary>
    public bool ExposeQuantizedActivations { get; init; }

    /// <summary>Emit the float model instead (same dequantized weights and biases, no Q/DQ): the baseline for INT8.</summary>
    public bool FloatBaseline { get; init; }
}

/// <summary>
/// Generates an INT8 QDQ (S8S8) 1-D CNN over a window of accelerometer samples, plus its exact C# reference:
/// <code>
/// input f32[1,3,128] → Q/DQ (int8 symmetric)
///   → Conv1d(16 filters, k=5, pad 2; DQ(int8 W per-channel), DQ(int32 bias)) → Relu → Q/DQ (zero point -128)
///   → Conv1d(32 filters, k=5, pad 2, stride 2) → Relu → Q/DQ
///   → GlobalAveragePool → Flatten → Q/DQ → MatMul(DQ(int8 W[32,4])) → Add(f32 bias) → Softmax → f32[1,4]
/// </code>
/// The layout is what ONNX Runtime's static quantizer produces (per-channel symmetric conv weights, int32 biases
/// with scale = input scale × weight scale, asymmetric post-ReLU activations), so ORT runs the convolutions as
/// QLinearConv. The convolutions are seeded random; with the default four labels the final layer is fitted
/// (softmax regression on the pooled features) to a synthetic accelerometer generator with idle / walk / run /
/// vibration regimes (<see cref="SyntheticWindow(ulong, QdqCnn1dOptions?)"/>), which also provides calibration
/// data and <see cref="QuantizedReference.SampleInput"/>. Not a model of real motion data.
/// Opset 13, IR 8. Thread-safe (stateless).
/// </summary>
public static class QdqCnn1d
{
    public const string InputName = "window";
    public const string OutputName = "probabilities";

    public static GeneratedModel Generate(QdqCnn1dOptions? options = null)
    {
        options ??= new QdqCnn1dOptions();
        if (options.KernelSize % 2 == 0 || options.KernelSize < 1)
            throw new ArgumentException("The kernel size must be odd so that padding keeps the window length.", nameof(options));
        if (options.ChannelNames.Count < 1 || options.WindowLength < options.KernelSize || options.Labels.Count < 2)
            throw new ArgumentException("The CNN needs at least one channel, a window longer than the kernel and two labels.", nameof(options));

        var rng = new SeededRandom(options.Seed);
        int channels = options.ChannelNames.Count, k = options.KernelSize, pad = k / 2;
        var shapes = new[]
        {
            (In: channels, Out: options.Conv1Filters, Stride: 1),
            (In: options.Conv1Filters, Out: options.Conv2Filters, Stride: 2),
        };

        var floatConvWeights = shapes.Select(s => Gaussian(rng, s.Out * s.In * k, Math.Sqrt(2.0 / (s.In * k)))).ToArray();
        var floatConvBiases = shapes.Select(s => Gaussian(rng, s.Out, 0.05)).ToArray();
        int features = options.Conv2Filters, classes = options.Labels.Count;
        var fcWeights = Gaussian(rng, features * classes, Math.Sqrt(2.0 / features));
        var fcBias = Gaussian(rng, classes, 0.05);

        var calibration = Enumerable.Range(0, options.CalibrationSamples)
            .Select(i => SyntheticWindow(new SeededRandom(options.Seed * 1_000_003UL + (ulong)i), options))
            .ToArray();

        // Conv weights: per output channel symmetric, as the ORT quantizer does for Conv (per_channel=True).
        var convs = new ConvLayer[shapes.Length];
        for (int l = 0; l < shapes.Length; l++)
        {
            var (cin, cout, stride) = shapes[l];
            var q = new sbyte[cout * cin * k];
            var scales = new float[cout];
            for (int m = 0; m < cout; m++)
            {
                var row = floatConvWeights[l].AsSpan(m * cin * k, cin * k);
                float maxAbs = 0;
                foreach (float w in row) maxAbs = Math.Max(maxAbs, MathF.Abs(w));
                scales[m] = QuantMath.Symmetric(maxAbs).Scale;
                for (int i = 0; i < row.Length; i++) q[m * cin * k + i] = QuantMath.Quantize(row[i], scales[m], 0);
            }
            convs[l] = new ConvLayer(cin, cout, k, stride, pad, q, scales, floatConvBiases[l]);
        }

        // Float calibration: input |max|, post-ReLU maxima, pooled maxima; pooled features for the last layer.
        var probe = new CnnReference(options, convs, Fc(fcWeights, fcBias, features, classes), null);
        var stats = new CalibrationStats(convs.Length);
        var pooledFeatures = calibration.Select(w => probe.FloatForward(w.Window, stats)).ToArray();
        if (classes == RegimeCount)
        {
            // The conv layers stay random; the classifier on their pooled features is fitted to the synthetic
            // regimes, so the model labels generated idle/walk/run/vibration windows (mostly) correctly.
            LastLayerFit.TrainSoftmax(pooledFeatures, calibration.Select(w => w.Label).ToArray(), fcWeights, fcBias, classes);
        }
        else
        {
            LastLayerFit.Balance(pooledFeatures, fcWeights, fcBias, classes, targetStd: 2.0);
        }
        var fc = Fc(fcWeights, fcBias, features, classes);

        var inputQ = QuantMath.Symmetric(stats.InputMaxAbs);
        var convActs = stats.ConvMax.Select(m => QuantMath.Asymmetric(0f, m)).ToArray();
        var poolQ = QuantMath.Asymmetric(0f, stats.PoolMax);

        // Biases as int32 with scale = input scale × weight scale (zero point 0), as QLinearConv needs them.
        for (int l = 0; l < convs.Length; l++)
        {
            float inScale = l == 0 ? inputQ.Scale : convActs[l - 1].Scale;
            var c = convs[l];
            c.BiasScales = c.WeightScales.Select(ws => inScale * ws).ToArray();
            c.BiasQ = new int[c.Out];
            for (int m = 0; m < c.Out; m++)
                c.BiasQ[m] = (int)Math.Clamp(Math.Round((double)c.FloatBias[m] / c.BiasScales[m], MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }

        var quant = new CnnQuantization(inputQ, convActs, poolQ);
        var reference = new CnnReference(options, convs, fc, quant) { QuantizeActivations = !options.FloatBaseline };
        byte[] bytes = BuildGraph(options, convs, fc, quant);
        // Measured against ORT 1.30 (x64: both convolutions run as QLinearConv) over 3000 seeded windows: max |Δp|
        // 0.0074, mean 1.3e-6, argmax agreement 100 %; int8 activations differ by one step in 16 of 12 million values
        // (requantization ties). A one-step flip of a pooled feature moves a probability by up to ~0.01-0.04, hence 0.02.
        return new GeneratedModel(bytes, InputName, [1, channels, options.WindowLength], OutputName, [1, classes],
            options.Labels.ToArray(), reference, ProbabilityTolerance: options.FloatBaseline ? QdqMlp.FloatTolerance : 0.02f, MinArgMaxAgreement: 0.98);
    }

    /// <summary>Number of regimes <see cref="SyntheticWindow(SeededRandom, QdqCnn1dOptions)"/> draws from (idle, walk, run, vibration).</summary>
    public const int RegimeCount = 4;

    /// <summary>
    /// A synthetic accelerometer window [channels × length] in g, row-major, and its regime (0 idle: gravity +
    /// noise; 1 walk: ~2 Hz, 0.3–0.6 g; 2 run: ~3 Hz, 0.8–1.5 g; 3 vibration: 12–20 Hz, 0.05–0.3 g), chosen by
    /// the generator. The regime index is the label index of the default labels.
    /// </summary>
    public static (float[] Window, int Label) SyntheticWindow(SeededRandom rng, QdqCnn1dOptions options)
    {
        int c = options.ChannelNames.Count, n = options.WindowLength;
        var x = new float[c * n];
        int regime = rng.NextInt(RegimeCount);
        double f = regime switch { 1 => rng.Uniform(1.5, 2.2), 2 => rng.Uniform(2.5, 3.5), 3 => rng.Uniform(12, 20), _ => 0 };
        double amp = regime switch { 1 => rng.Uniform(0.3, 0.6), 2 => rng.Uniform(0.8, 1.5), 3 => rng.Uniform(0.05, 0.3), _ => 0 };
        double noise = regime switch { 2 => 0.1, 1 => 0.05, _ => 0.02 };
        for (int ch = 0; ch < c; ch++)
        {
            double gravity = ch == c - 1 ? 1.0 : rng.Uniform(-0.15, 0.15); // device roughly upright, small tilt
            double share = ch == c - 1 ? 1.0 : rng.Uniform(0.2, 0.5);      // most motion on the vertical axis
            double phase = rng.Uniform(0, 2 * Math.PI);
            for (int t = 0; t < n; t++)
            {
                double time = t / options.SampleRateHz;
                double motion = amp * share * (Math.Sin(2 * Math.PI * f * time + phase) + 0.3 * Math.Sin(4 * Math.PI * f * time + 2 * phase));
                x[ch * n + t] = (float)(gravity + motion + noise * rng.NextGaussian());
            }
        }
        return (x, regime);
    }

    /// <summary>The window <see cref="QuantizedReference.SampleInput"/> returns for <paramref name="seed"/>, with its regime.</summary>
    public static (float[] Window, int Label) SyntheticWindow(ulong seed, QdqCnn1dOptions? options = null) =>
        SyntheticWindow(new SeededRandom(seed ^ SampleSeedSalt), options ?? new QdqCnn1dOptions());

    private const ulong SampleSeedSalt = 0xC0FFEE_5EED;

    private static float[] Gaussian(SeededRandom rng, int n, double std)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextGaussian() * std);
        return a;
    }

    private static FcLayer Fc(float[] weights, float[] bias, int features, int classes)
    {
        var (scale, _) = QuantMath.Symmetric(weights.Max(MathF.Abs));
        return new FcLayer(features, classes, weights.Select(w => QuantMath.Quantize(w, scale, 0)).ToArray(), scale, (float[])bias.Clone());
    }

    private static byte[] BuildGraph(QdqCnn1dOptions o, ConvLayer[] convs, FcLayer fc, CnnQuantization q)
    {
        var b = new OnnxModelBuilder
        {
            GraphName = "qdq_cnn1d",
            ProducerVersion = QdqMlp.GeneratorVersion,
            ModelVersion = o.ModelVersion,
            DocString = $"{(o.FloatBaseline ? "Float baseline of the INT8 QDQ S8S8" : "INT8 QDQ S8S8")} 1-D CNN over {o.ChannelNames.Count}x{o.WindowLength} sensor windows with softmax over " +
                        $"{string.Join('/', o.Labels)}; seeded random weights (seed {o.Seed}), not trained.",
        };
        b.AddOpset("", 13);
        OnnxDim batch = o.DynamicBatch ? "batch" : 1;
        int channels = o.ChannelNames.Count;
        b.AddInput(InputName, OnnxElementType.Float, [batch, channels, o.WindowLength]);
        b.AddOutput(OutputName, OnnxElementType.Float, [batch, fc.Out]);

        bool quantized = !o.FloatBaseline;
        string current = quantized ? QdqMlp.AddQdq(b, InputName, "input", q.Input) : InputName;
        if (quantized && o.ExposeQuantizedActivations) b.AddOutput("input_q", OnnxElementType.Int8, [batch, channels, o.WindowLength]);
        int length = o.WindowLength;
        for (int l = 0; l < convs.Length; l++)
        {
            var c = convs[l];
            string p = $"conv{l}";
            length = c.OutputLength(length);
            if (quantized)
            {
                b.AddInitializer(OnnxTensor.Create($"{p}.weight_q", [c.Out, c.In, c.Kernel], c.WeightsQ));
                b.AddInitializer(OnnxTensor.Create($"{p}.weight_scale", [c.Out], c.WeightScales));
                b.AddInitializer(OnnxTensor.Create($"{p}.weight_zero_point", [c.Out], new sbyte[c.Out]));
                b.AddInitializer(OnnxTensor.Create($"{p}.bias_q", [c.Out], c.BiasQ!));
                b.AddInitializer(OnnxTensor.Create($"{p}.bias_scale", [c.Out], c.BiasScales!));
                b.AddInitializer(OnnxTensor.Create($"{p}.bias_zero_point", [c.Out], new int[c.Out]));
                // DequantizeLinear's axis defaults to 1; per-output-channel parameters are on axis 0.
                b.AddNode("DequantizeLinear", [$"{p}.weight_q", $"{p}.weight_scale", $"{p}.weight_zero_point"], [$"{p}.weight"], $"{p}.weight_dq").WithInt("axis", 0);
                b.AddNode("DequantizeLinear", [$"{p}.bias_q", $"{p}.bias_scale", $"{p}.bias_zero_point"], [$"{p}.bias"], $"{p}.bias_dq").WithInt("axis", 0);
            }
            else
            {
                b.AddInitializer(OnnxTensor.Create($"{p}.weight", [c.Out, c.In, c.Kernel], c.DequantizedWeights()));
                b.AddInitializer(OnnxTensor.Create($"{p}.bias", [c.Out], c.DequantizedBias()));
            }
            b.AddNode("Conv", [current, $"{p}.weight", $"{p}.bias"], [$"{p}.out"], p)
                .WithInts("kernel_shape", c.Kernel).WithInts("pads", c.Pad, c.Pad).WithInts("strides", c.Stride)
                .WithInts("dilations", 1).WithInt("group", 1);
            b.AddNode("Relu", [$"{p}.out"], [$"{p}.relu"], $"{p}.relu");
            current = quantized ? QdqMlp.AddQdq(b, $"{p}.relu", $"{p}.act", q.Conv[l]) : $"{p}.relu";
            if (quantized && o.ExposeQuantizedActivations) b.AddOutput($"{p}.act_q", OnnxElementType.Int8, [batch, c.Out, length]);
        }
        b.AddNode("GlobalAveragePool", [current], ["pool"], "pool");
        b.AddNode("Flatten", ["pool"], ["pool.flat"], "flatten").WithInt("axis", 1);
        current = quantized ? QdqMlp.AddQdq(b, "pool.flat", "pool.act", q.Pool) : "pool.flat";
        if (quantized && o.ExposeQuantizedActivations) b.AddOutput("pool.act_q", OnnxElementType.Int8, [batch, fc.In]);

        if (quantized)
        {
            b.AddInitializer(OnnxTensor.Create("fc.weight_q", [fc.In, fc.Out], fc.WeightsQ));
            b.AddInitializer(OnnxTensor.Create("fc.weight_scale", [], new[] { fc.WeightScale }));
            b.AddInitializer(OnnxTensor.Create("fc.weight_zero_point", [], new sbyte[] { 0 }));
            b.AddNode("DequantizeLinear", ["fc.weight_q", "fc.weight_scale", "fc.weight_zero_point"], ["fc.weight"], "fc.weight_dq");
        }
        else
        {
            b.AddInitializer(OnnxTensor.Create("fc.weight", [fc.In, fc.Out], fc.WeightsQ.Select(w => QuantMath.Dequantize(w, fc.WeightScale, 0)).ToArray()));
        }
        b.AddInitializer(OnnxTensor.Create("fc.bias", [fc.Out], fc.Bias));
        b.AddNode("MatMul", [current, "fc.weight"], ["fc.matmul"], "fc.matmul");
        b.AddNode("Add", ["fc.matmul", "fc.bias"], ["fc.logits"], "fc.add");
        b.AddNode("Softmax", ["fc.logits"], [OutputName], "softmax").WithInt("axis", -1);

        string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
        b.AddMetadata("edgeagent.generator", "qdq-cnn1d");
        b.AddMetadata("edgeagent.seed", o.Seed.ToString(CultureInfo.InvariantCulture));
        b.AddMetadata("labels", string.Join(',', o.Labels));
        b.AddMetadata("input_layout", "NCW");
        b.AddMetadata("channels", string.Join(',', o.ChannelNames));
        b.AddMetadata("window_length", Num(o.WindowLength));
        b.AddMetadata("hop_length", Num(o.HopLength));
        b.AddMetadata("sample_rate_hz", Num(o.SampleRateHz));
        b.AddMetadata("units", "g");
        b.AddMetadata("quantization", quantized
            ? "QDQ S8S8: int8 conv weights per-channel symmetric, int32 conv bias, int8 activations (input symmetric, post-ReLU asymmetric)"
            : "none (float baseline of the QDQ model)");
        return b.Build();
    }

    internal sealed class ConvLayer(int cin, int cout, int kernel, int stride, int pad, sbyte[] weightsQ, float[] weightScales, float[] floatBias)
    {
        public int In { get; } = cin;
        public int Out { get; } = cout;
        public int Kernel { get; } = kernel;
        public int Stride { get; } = stride;
        public int Pad { get; } = pad;
        public sbyte[] WeightsQ { get; } = weightsQ;
        public float[] WeightScales { get; } = weightScales;
        public float[] FloatBias { get; } = floatBias;
        public int[]? BiasQ { get; set; }
        public float[]? BiasScales { get; set; }

        /// <summary>ONNX Conv output length: floor((L + 2·pad − kernel) / stride) + 1.</summary>
        public int OutputLength(int length) => (length + 2 * Pad - Kernel) / Stride + 1;

        public float[] DequantizedBias()
        {
            var b = new float[Out];
            for (int m = 0; m < Out; m++) b[m] = QuantMath.Dequantize(BiasQ![m], BiasScales![m]);
            return b;
        }

        public float[] DequantizedWeights()
        {
            var w = new float[WeightsQ.Length];
            int per = In * Kernel;
            for (int i = 0; i < w.Length; i++) w[i] = QuantMath.Dequantize(WeightsQ[i], WeightScales[i / per], 0);
            return w;
        }
    }

    internal sealed record FcLayer(int In, int Out, sbyte[] WeightsQ, float WeightScale, float[] Bias);

    internal sealed record CnnQuantization((float Scale, sbyte ZeroPoint) Input, (float Scale, sbyte ZeroPoint)[] Conv, (float Scale, sbyte ZeroPoint) Pool);

    internal sealed class CalibrationStats(int convLayers)
    {
        public float InputMaxAbs;
        public readonly float[] ConvMax = new float[convLayers];
        public float PoolMax;
    }

    /// <summary>The CNN in float32 with exact Q/DQ; with null quantization it is the float model used for calibration.</summary>
    internal sealed class CnnReference : QuantizedReference
    {
        private readonly QdqCnn1dOptions _options;
        private readonly ConvLayer[] _convs;
        private readonly float[][] _convWeights;
        private readonly FcLayer _fc;
        private readonly float[] _fcWeights;
        private readonly CnnQuantization? _q;

        public CnnReference(QdqCnn1dOptions options, ConvLayer[] convs, FcLayer fc, CnnQuantization? quantization)
        {
            _options = options;
            _convs = convs;
            _convWeights = convs.Select(c => c.DequantizedWeights()).ToArray();
            _fc = fc;
            _fcWeights = fc.WeightsQ.Select(w => QuantMath.Dequantize(w, fc.WeightScale, 0)).ToArray();
            _q = quantization;
        }

        /// <summary>False for the float baseline: activations pass through unquantized.</summary>
        public bool QuantizeActivations { get; init; } = true;

        public override int InputLength => _options.ChannelNames.Count * _options.WindowLength;

        public override int OutputLength => _fc.Out;

        public override float[] SampleInput(ulong seed) => SyntheticWindow(seed, _options).Window;

        protected override void RunOne(ReadOnlySpan<float> input, Span<float> probabilities)
        {
            Forward(input, null).CopyTo(probabilities);
            QuantMath.Softmax(probabilities);
        }

        public override IReadOnlyList<KeyValuePair<string, sbyte[]>> QuantizedActivations(ReadOnlySpan<float> input)
        {
            if (input.Length != InputLength)
                throw new ArgumentException($"Input has {input.Length} values; one batch item has {InputLength}.", nameof(input));
            var trace = new List<KeyValuePair<string, sbyte[]>>();
            Forward(input, trace);
            return trace;
        }

        private float[] Forward(ReadOnlySpan<float> input, List<KeyValuePair<string, sbyte[]>>? trace)
        {
            var q = _q ?? throw new InvalidOperationException("The calibration model has no quantization parameters.");
            float[] x = QuantizeDequantize(input.ToArray(), q.Input, "input_q", trace);
            int length = _options.WindowLength;
            for (int l = 0; l < _convs.Length; l++)
            {
                var c = _convs[l];
                x = Conv(l, x, length, c.DequantizedBias());
                length = c.OutputLength(length);
                for (int i = 0; i < x.Length; i++) x[i] = Math.Max(x[i], 0f);
                x = QuantizeDequantize(x, q.Conv[l], $"conv{l}.act_q", trace);
            }
            float[] pooled = Pool(x, _convs[^1].Out, length);
            pooled = QuantizeDequantize(pooled, q.Pool, "pool.act_q", trace);
            return Linear(pooled);
        }

        /// <summary>Float forward pass (no activation quantization) recording ranges; returns the pooled features.</summary>
        public float[] FloatForward(float[] input, CalibrationStats stats)
        {
            stats.InputMaxAbs = Math.Max(stats.InputMaxAbs, input.Max(MathF.Abs));
            float[] x = input;
            int length = _options.WindowLength;
            for (int l = 0; l < _convs.Length; l++)
            {
                x = Conv(l, x, length, _convs[l].FloatBias);
                length = _convs[l].OutputLength(length);
                for (int i = 0; i < x.Length; i++) x[i] = Math.Max(x[i], 0f);
                stats.ConvMax[l] = Math.Max(stats.ConvMax[l], x.Max());
            }
            float[] pooled = Pool(x, _convs[^1].Out, length);
            stats.PoolMax = Math.Max(stats.PoolMax, pooled.Max());
            return pooled;
        }

        /// <summary>ONNX Conv (1-D, group 1, dilation 1) with zero padding: out[m,t] = b[m] + Σ_c Σ_k x[c, t·stride + k − pad]·w[m,c,k].</summary>
        private float[] Conv(int l, float[] x, int length, float[] bias)
        {
            var c = _convs[l];
            var w = _convWeights[l];
            int outLength = c.OutputLength(length);
            var y = new float[c.Out * outLength];
            for (int m = 0; m < c.Out; m++)
            {
                for (int t = 0; t < outLength; t++)
                {
                    double acc = 0;
                    int start = t * c.Stride - c.Pad;
                    for (int ch = 0; ch < c.In; ch++)
                    {
                        int wRow = (m * c.In + ch) * c.Kernel, xRow = ch * length;
                        for (int k = 0; k < c.Kernel; k++)
                        {
                            int pos = start + k;
                            if (pos >= 0 && pos < length) acc += (double)x[xRow + pos] * w[wRow + k];
                        }
                    }
                    y[m * outLength + t] = (float)acc + bias[m];
                }
            }
            return y;
        }

        private static float[] Pool(float[] x, int channels, int length)
        {
            var pooled = new float[channels];
            for (int m = 0; m < channels; m++)
            {
                double sum = 0;
                for (int t = 0; t < length; t++) sum += x[m * length + t];
                pooled[m] = (float)(sum / length);
            }
            return pooled;
        }

        private float[] Linear(float[] x)
        {
            var acc = new double[_fc.Out];
            for (int i = 0; i < _fc.In; i++)
                for (int j = 0; j < _fc.Out; j++)
                    acc[j] += (double)x[i] * _fcWeights[i * _fc.Out + j];
            var y = new float[_fc.Out];
            for (int j = 0; j < y.Length; j++) y[j] = (float)acc[j] + _fc.Bias[j];
            return y;
        }

        private float[] QuantizeDequantize(float[] x, (float Scale, sbyte ZeroPoint) p, string name, List<KeyValuePair<string, sbyte[]>>? trace)
        {
            if (!QuantizeActivations) return x;
            var q = new sbyte[x.Length];
            var y = new float[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                q[i] = QuantMath.Quantize(x[i], p.Scale, p.ZeroPoint);
                y[i] = QuantMath.Dequantize(q[i], p.Scale, p.ZeroPoint);
            }
            trace?.Add(new(name, q));
            return y;
        }
    }
}
