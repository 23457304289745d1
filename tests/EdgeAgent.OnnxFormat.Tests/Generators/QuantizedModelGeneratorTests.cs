using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.OnnxFormat.Tests.Generators;

public sealed class QuantizedModelGeneratorTests
{
    private static readonly GeneratedModel Mlp = QdqMlp.Generate();
    private static readonly GeneratedModel Cnn = QdqCnn1d.Generate();

    [Fact]
    public void Same_seed_gives_byte_identical_models_and_another_seed_does_not()
    {
        Assert.Equal(Mlp.OnnxBytes, QdqMlp.Generate().OnnxBytes);
        Assert.Equal(Cnn.OnnxBytes, QdqCnn1d.Generate().OnnxBytes);
        Assert.NotEqual(Mlp.OnnxBytes, QdqMlp.Generate(new QdqMlpOptions { Seed = 43 }).OnnxBytes);
        Assert.NotEqual(Cnn.OnnxBytes, QdqCnn1d.Generate(new QdqCnn1dOptions { Seed = 8 }).OnnxBytes);
    }

    [Fact]
    public void SeededRandom_sequence_is_fixed_by_the_seed()
    {
        // SplitMix64 reference values for seed 0 (Vigna's splitmix64.c).
        var r = new SeededRandom(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, r.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, r.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, r.NextUInt64());
    }

    [Fact]
    public void Mlp_declares_its_contract_metadata_and_qdq_layout()
    {
        var info = ModelInfo.Parse(Mlp.OnnxBytes);
        Assert.Equal("edgeagent-modelgen", info.ProducerName);
        Assert.Equal(13, info.DefaultOpsetVersion);
        Assert.Equal(8, info.IrVersion);
        Assert.Equal(1, info.ModelVersion);
        Assert.Equal("input: float32[1,64]", Assert.Single(info.Inputs).ToString());
        Assert.Equal("probabilities: float32[1,4]", Assert.Single(info.Outputs).ToString());
        Assert.Equal("normal,degraded,fault,unknown", info.GetMetadata("labels"));
        Assert.Equal("qdq-mlp", info.GetMetadata("edgeagent.generator"));
        Assert.Equal(3, info.OpTypeHistogram["MatMul"]);
        Assert.Equal(3, info.OpTypeHistogram["QuantizeLinear"]);
        Assert.Equal(6, info.OpTypeHistogram["DequantizeLinear"]);
        Assert.Equal(2, info.OpTypeHistogram["Relu"]);
        Assert.Equal(1, info.OpTypeHistogram["Softmax"]);
        // int8 weights 64·256 + 256·256 + 256·4, float biases (256+256+4)·4, and the scalar scales/zero points.
        long weights = 64 * 256 + 256 * 256 + 256 * 4, biases = (256 + 256 + 4) * 4;
        Assert.InRange(info.InitializerBytes, weights + biases, weights + biases + 100);
    }

    [Fact]
    public void Mlp_weights_in_the_file_are_int8_and_use_the_full_symmetric_range()
    {
        var init = ModelInfo.ReadInitializers(Mlp.OnnxBytes).ToDictionary(t => t.Name);
        var w0 = init["fc0.weight_q"];
        Assert.Equal(OnnxElementType.Int8, w0.ElementType);
        Assert.Equal(new long[] { 64, 256 }, w0.Dims);
        Assert.Equal(127, w0.GetData<sbyte>().Max(v => Math.Abs((int)v)));
        Assert.Equal(0, Assert.Single(init["fc0.weight_zero_point"].GetData<sbyte>()));
        Assert.Equal(-128, Assert.Single(init["fc0.act_zero_point"].GetData<sbyte>())); // post-ReLU
        Assert.Equal(0, Assert.Single(init["input_zero_point"].GetData<sbyte>()));
    }

    [Fact]
    public void Cnn_declares_its_window_contract_in_metadata()
    {
        var info = ModelInfo.Parse(Cnn.OnnxBytes);
        Assert.Equal("window: float32[1,3,128]", Assert.Single(info.Inputs).ToString());
        Assert.Equal("probabilities: float32[1,4]", Assert.Single(info.Outputs).ToString());
        Assert.Equal("idle,walk,run,vibration_fault", info.GetMetadata("labels"));
        Assert.Equal("128", info.GetMetadata("window_length"));
        Assert.Equal("64", info.GetMetadata("hop_length"));
        Assert.Equal("ax,ay,az", info.GetMetadata("channels"));
        Assert.Equal("50", info.GetMetadata("sample_rate_hz"));
        Assert.Equal("NCW", info.GetMetadata("input_layout"));
        Assert.Equal(2, info.OpTypeHistogram["Conv"]);
        Assert.Equal(1, info.OpTypeHistogram["GlobalAveragePool"]);
        Assert.True(info.DefaultOpsetVersion >= 13);
    }

    [Fact]
    public void Cnn_conv_weights_are_per_channel_and_biases_int32()
    {
        var init = ModelInfo.ReadInitializers(Cnn.OnnxBytes).ToDictionary(t => t.Name);
        Assert.Equal(new long[] { 16, 3, 5 }, init["conv0.weight_q"].Dims);
        Assert.Equal(new long[] { 16 }, init["conv0.weight_scale"].Dims);
        Assert.Equal(new long[] { 32, 16, 5 }, init["conv1.weight_q"].Dims);
        Assert.Equal(OnnxElementType.Int32, init["conv1.bias_q"].ElementType);
        // Each output channel uses its own full range.
        var w = init["conv1.weight_q"].GetData<sbyte>();
        for (int m = 0; m < 32; m++)
            Assert.Equal(127, w.Skip(m * 80).Take(80).Max(v => Math.Abs((int)v)));
        // Bias scale = input activation scale × weight scale per channel.
        float actScale = init["conv0.act_scale"].GetData<float>()[0];
        var ws = init["conv1.weight_scale"].GetData<float>();
        var bs = init["conv1.bias_scale"].GetData<float>();
        for (int m = 0; m < 32; m++) Assert.Equal(actScale * ws[m], bs[m]);
    }

    [Fact]
    public void Dynamic_batch_models_declare_a_symbolic_batch_dimension()
    {
        var mlp = ModelInfo.Parse(QdqMlp.Generate(new QdqMlpOptions { DynamicBatch = true }).OnnxBytes);
        Assert.Equal("input: float32[batch,64]", mlp.Inputs[0].ToString());
        var cnn = ModelInfo.Parse(QdqCnn1d.Generate(new QdqCnn1dOptions { DynamicBatch = true }).OnnxBytes);
        Assert.Equal("window: float32[batch,3,128]", cnn.Inputs[0].ToString());
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void Reference_gives_probabilities_that_spread_over_several_classes(string which)
    {
        var model = which == "mlp" ? Mlp : Cnn;
        var winners = new HashSet<int>();
        double maxProbabilitySum = 0;
        for (ulong seed = 1; seed <= 200; seed++)
        {
            float[] p = model.Reference.Run(model.Reference.SampleInput(seed));
            Assert.Equal(model.Labels.Count, p.Length);
            Assert.Equal(1.0, p.Sum(v => (double)v), 4);
            winners.Add(QuantMath.ArgMax(p));
            maxProbabilitySum += p.Max();
        }
        Assert.True(winners.Count >= 2, $"{which}: only class {string.Join(',', winners)} ever wins");
        Assert.True(maxProbabilitySum / 200 < 0.99, $"{which}: outputs are practically one-hot");
    }

    [Fact]
    public void Reference_runs_a_batch_as_independent_items()
    {
        float[] a = Cnn.Reference.SampleInput(1), b = Cnn.Reference.SampleInput(2);
        float[] batch = Cnn.Reference.Run([.. a, .. b]);
        Assert.Equal([.. Cnn.Reference.Run(a), .. Cnn.Reference.Run(b)], batch);
        Assert.Throws<ArgumentException>(() => Cnn.Reference.Run(new float[100]));
    }

    [Fact]
    public void Quantized_activations_trace_names_every_quantize_node_of_the_graph()
    {
        var names = Cnn.Reference.QuantizedActivations(Cnn.Reference.SampleInput(3)).Select(kv => kv.Key).ToArray();
        Assert.Equal(new[] { "input_q", "conv0.act_q", "conv1.act_q", "pool.act_q" }, names);
        var exposed = ModelInfo.Parse(QdqCnn1d.Generate(new QdqCnn1dOptions { ExposeQuantizedActivations = true }).OnnxBytes);
        Assert.Equal(["probabilities", .. names], exposed.Outputs.Select(o => o.Name).ToArray());
        Assert.Equal("conv1.act_q: int8[1,32,64]", exposed.Outputs[3].ToString());
    }

    [Fact]
    public void Sensor_windows_look_like_accelerometer_data()
    {
        var (x, label) = QdqCnn1d.SyntheticWindow(5);
        Assert.InRange(label, 0, QdqCnn1d.RegimeCount - 1);
        Assert.Equal(3 * 128, x.Length);
        Assert.All(x, v => Assert.InRange(v, -4f, 5f));
        double zMean = x.Skip(256).Average(v => (double)v);
        Assert.InRange(zMean, 0.7, 1.3); // gravity on the vertical axis
    }
}

public sealed class QdqCnn1dAccuracyTests
{
    [Fact]
    public void Cnn_labels_most_synthetic_windows_with_their_regime()
    {
        var cnn = QdqCnn1d.Generate();
        int correct = 0, n = 400;
        var perClass = new int[QdqCnn1d.RegimeCount];
        for (ulong seed = 10_000; seed < 10_000 + (ulong)n; seed++)
        {
            var (window, label) = QdqCnn1d.SyntheticWindow(seed);
            Assert.Equal(window, cnn.Reference.SampleInput(seed));
            int predicted = QuantMath.ArgMax(cnn.Reference.Run(window));
            if (predicted == label)
            {
                correct++;
                perClass[label]++;
            }
        }
        double accuracy = (double)correct / n;
        // Measured 81.7 % on 1000 windows (vibration is the class most often taken for idle).
        Assert.True(accuracy >= 0.75, $"accuracy {accuracy:P1}, correct per class {string.Join(',', perClass)}");
        Assert.All(perClass, c => Assert.True(c > 0, $"correct per class {string.Join(',', perClass)}"));
    }
}

public sealed class FloatBaselineTests
{
    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void Float_baseline_has_the_same_contract_and_no_quantize_nodes(string which)
    {
        var (q, f) = which == "mlp"
            ? (QdqMlp.Generate(), QdqMlp.Generate(new QdqMlpOptions { FloatBaseline = true }))
            : (QdqCnn1d.Generate(), QdqCnn1d.Generate(new QdqCnn1dOptions { FloatBaseline = true }));
        var qi = ModelInfo.Parse(q.OnnxBytes);
        var fi = ModelInfo.Parse(f.OnnxBytes);
        Assert.Equal(qi.Inputs, fi.Inputs);
        Assert.Equal(qi.Outputs.Select(o => o.ToString()), fi.Outputs.Select(o => o.ToString()));
        Assert.False(fi.OpTypeHistogram.ContainsKey("QuantizeLinear"));
        Assert.False(fi.OpTypeHistogram.ContainsKey("DequantizeLinear"));
        Assert.StartsWith("none", fi.GetMetadata("quantization"));
        Assert.Empty(f.Reference.QuantizedActivations(f.Reference.SampleInput(1)));
        // INT8 weights are 4x smaller than float ones; per-channel scales and int32 biases eat a little of that.
        Assert.True(fi.InitializerBytes > 3 * qi.InitializerBytes, $"{fi.InitializerBytes} vs {qi.InitializerBytes}");
    }

    [Theory]
    [InlineData("mlp", 0.95)]
    [InlineData("cnn", 0.95)]
    public void Int8_model_agrees_with_its_float_baseline_on_most_inputs(string which, double minAgreement)
    {
        var (q, f) = which == "mlp"
            ? (QdqMlp.Generate(), QdqMlp.Generate(new QdqMlpOptions { FloatBaseline = true }))
            : (QdqCnn1d.Generate(), QdqCnn1d.Generate(new QdqCnn1dOptions { FloatBaseline = true }));
        int agree = 0, n = 300;
        double maxDiff = 0;
        for (ulong seed = 1; seed <= (ulong)n; seed++)
        {
            float[] x = q.Reference.SampleInput(seed);
            float[] pq = q.Reference.Run(x), pf = f.Reference.Run(x);
            if (QuantMath.ArgMax(pq) == QuantMath.ArgMax(pf)) agree++;
            for (int c = 0; c < pq.Length; c++) maxDiff = Math.Max(maxDiff, Math.Abs(pq[c] - pf[c]));
        }
        Assert.True(agree >= n * minAgreement, $"{which}: INT8 and float argmax agree on {agree} of {n}, max |Δp| {maxDiff:F4}");
    }
}

public sealed class ReferenceSampleTests
{
    [Fact]
    public void Reference_samples_are_shaped_like_the_model_and_reproducible()
    {
        var mlp = QdqMlp.Generate();
        var golden = mlp.ReferenceSamples(5);
        Assert.Equal(5, golden.Count);
        Assert.All(golden, g =>
        {
            Assert.Equal("input", g.Input.Name);
            Assert.Equal(new long[] { 1, 64 }, g.Input.Dims);
            Assert.Equal("probabilities", g.ExpectedOutput.Name);
            Assert.Equal(new long[] { 1, 4 }, g.ExpectedOutput.Dims);
        });
        var again = mlp.ReferenceSamples(5);
        Assert.True(golden.Zip(again).All(p => p.First.Input.ContentEquals(p.Second.Input) && p.First.ExpectedOutput.ContentEquals(p.Second.ExpectedOutput)));
        // They survive the file formats a bundle would carry them in.
        var viaNpy = NpyFormat.Read(NpyFormat.Write(golden[0].Input), "input");
        Assert.True(golden[0].Input.ContentEquals(viaNpy));
        var viaPb = TensorProtoCodec.Read(TensorProtoCodec.Write(golden[0].ExpectedOutput));
        Assert.True(golden[0].ExpectedOutput.ContentEquals(viaPb));
    }
}

public sealed class CorruptInputTests
{
    [Fact]
    public void Corrupted_npy_files_fail_with_a_format_exception_only()
    {
        byte[] original = NpyFormat.Write(OnnxTensor.Create("x", [2, 3], new[] { 1f, 2, 3, 4, 5, 6 }));
        Fuzz(original, bytes => NpyFormat.Read(bytes));
    }

    [Fact]
    public void Corrupted_tensor_protos_fail_with_a_format_exception_only()
    {
        byte[] raw = TensorProtoCodec.Write(OnnxTensor.Create("w", [4, 4], new sbyte[16]));
        byte[] typed = TensorProtoCodec.Write(OnnxTensor.Create("w", [2, 2], new long[] { 1, -1, 300, 0 }), TensorDataEncoding.Typed);
        Fuzz(raw, bytes => TensorProtoCodec.Read(bytes));
        Fuzz(typed, bytes => TensorProtoCodec.Read(bytes));
    }

    [Fact]
    public void Corrupted_json_fails_with_a_format_exception_only()
    {
        byte[] original = System.Text.Encoding.UTF8.GetBytes("""{"dims":[2,2],"data":[[1,2],[3,4]]}""");
        Fuzz(original, bytes => JsonTensorReader.Parse(bytes, OnnxElementType.Int8));
    }

    private static void Fuzz(byte[] original, Action<byte[]> parse)
    {
        var rng = new Random(99);
        int iterations = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 100_000 : 3_000;
        for (int i = 0; i < iterations; i++)
        {
            byte[] bytes = (byte[])original.Clone();
            if (rng.Next(4) == 0) bytes = bytes[..rng.Next(bytes.Length)];
            for (int f = rng.Next(1, 4); f > 0 && bytes.Length > 0; f--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try { parse(bytes); }
            catch (OnnxFormatException) { }
        }
    }
}
