namespace EdgeAgent.Onnx.Tests.Inference;

public sealed class InferenceEngineTests
{
    [Fact]
    public void Lease_runs_the_model_on_its_own_buffers()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 8)));
        using var lease = engine.Rent();

        var input = lease.Input<float>(0);
        for (int i = 0; i < input.Length; i++) input[i] = i;
        lease.Run();

        Assert.Equal(Enumerable.Range(0, 8).Select(i => (float)-i), lease.Output<float>("output").ToArray());
        Assert.Equal("[1,8] float32", lease.Inputs[0].ToString());
        Assert.Equal(1, engine.Generation);
    }

    [Fact]
    public void Every_fixed_size_element_type_round_trips_through_a_lease()
    {
        foreach (var type in Enum.GetValues<OnnxElementType>().Where(t => ElementTypes.SizeOf(t) > 0))
        {
            using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Identity(type, 2, 3)));
            using var lease = engine.Rent();
            var sample = Sessions.GeneralRunTests.Sample(type, "input", [2, 3]);

            lease.SetInput(sample);
            lease.Run();

            Assert.True(sample.ContentEquals(lease.GetOutput(0)), type.ToString());
        }
    }

    [Fact]
    public void Single_tensor_run_copies_in_and_out()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Cast(OnnxElementType.Float, OnnxElementType.Int8, 1, 4)));
        Span<sbyte> output = stackalloc sbyte[4];

        engine.Run<float, sbyte>([1.5f, -2.5f, 100f, 0f], output);

        Assert.Equal(new sbyte[] { 1, -2, 100, 0 }, output.ToArray());
    }

    [Fact]
    public void Wrong_window_shape_is_reported_as_the_model_contract_says()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Identity(OnnxElementType.Float, 1, 64)));
        var output = new float[64];

        var shape = Assert.Throws<ModelContractException>(() => engine.Run<float, float>(new float[63], [1, 63], output));
        Assert.Equal("model input 'input' expects [1,64] float32, got [1,63] float32", shape.Message);

        var length = Assert.Throws<ModelContractException>(() => engine.Run<float, float>(new float[63], output));
        Assert.Equal("model input 'input' is [1,64] float32 (64 values), got a buffer of 63 values", length.Message);

        var type = Assert.Throws<ModelContractException>(() => engine.Run<double, float>(new double[64], [1, 64], output));
        Assert.Equal("model input 'input' expects [1,64] float32, got [1,64] float64", type.Message);
    }

    [Fact]
    public void Lease_refuses_a_buffer_of_the_wrong_element_type_or_name()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Identity(OnnxElementType.Float, 1, 4)));
        using var lease = engine.Rent();

        var type = Assert.Throws<ModelContractException>(() => lease.Input<int>(0));
        Assert.Equal("model input 'input' is [1,4] float32; it cannot be accessed as Int32", type.Message);

        var name = Assert.Throws<ModelContractException>(() => lease.Input<float>("x"));
        Assert.Equal("the model has no input 'x'; its inputs are: 'input' [1,4] float32", name.Message);

        var shape = Assert.Throws<ModelContractException>(() => lease.SetInput(OnnxTensor.Create("input", [4], new float[4])));
        Assert.Equal("model input 'input' expects [1,4] float32, got [4] float32", shape.Message);
    }

    [Fact]
    public void NaN_inputs_are_run_and_left_to_the_callers_policy()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Relu", 1, 3)));
        var output = new float[3];

        engine.Run<float, float>([float.NaN, -1f, float.PositiveInfinity], output);

        Assert.True(float.IsNaN(output[0]));
        Assert.Equal(0f, output[1]);
        Assert.Equal(float.PositiveInfinity, output[2]);
    }

    [Fact]
    public void Dynamic_inputs_need_a_concrete_shape_and_outputs_follow_it()
    {
        byte[] model = TestModels.Identity(OnnxElementType.Float, "batch", 16);

        var session = TestModels.Load(model);
        var refused = Assert.Throws<ModelContractException>(() => InferenceEngine.Create(session));
        Assert.Contains("model input 'input' has dynamic dimensions [batch,16] float32", refused.Message);
        Assert.Contains("InputShapes", refused.Message);

        using var byValue = InferenceEngine.Create(session, new InferenceEngineOptions { DynamicDimensionValue = 1 });
        Assert.Equal(new long[] { 1, 16 }, byValue.Inputs[0].Shape);
        Assert.Equal(new long[] { 1, 16 }, byValue.Outputs[0].Shape);

        using var byShape = InferenceEngine.Create(TestModels.Load(model),
            new InferenceEngineOptions { InputShapes = new Dictionary<string, long[]> { ["input"] = [4, 16] } });
        Assert.Equal(new long[] { 4, 16 }, byShape.Outputs[0].Shape);
        using var lease = byShape.Rent();
        lease.Input<float>(0).Fill(3f);
        lease.Run();
        Assert.All(lease.Output<float>(0).ToArray(), v => Assert.Equal(3f, v));

        var bad = TestModels.Load(model);
        var wrong = Assert.Throws<ModelContractException>(() => InferenceEngine.Create(bad,
            new InferenceEngineOptions { InputShapes = new Dictionary<string, long[]> { ["input"] = [4, 15] } }));
        Assert.Equal("model input 'input' expects [batch,16] float32, the configured shape is [4,15]", wrong.Message);
        bad.Dispose();
    }

    [Fact]
    public void String_models_are_refused_by_the_engine_with_a_pointer_to_the_general_api()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.String, 2));

        var e = Assert.Throws<ModelContractException>(() => InferenceEngine.Create(session));

        Assert.Contains("input 'input' is string", e.Message);
        Assert.Contains("OnnxSession.Run", e.Message);
    }

    [Fact]
    public void Terminate_aborts_the_next_run_only()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 2)));
        using var lease = engine.Rent();
        lease.Input<float>(0)[0] = 5f;

        lease.Terminate();
        var e = Assert.Throws<OperationCanceledException>(() => lease.Run());
        Assert.IsType<OnnxRuntimeException>(e.InnerException);

        lease.Run();
        Assert.Equal(-5f, lease.Output<float>(0)[0]);
    }

    [Fact]
    public void Cancellation_token_terminates_a_long_run_on_a_lease()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.SlowMatMulChain(layers: 2000)),
            new InferenceEngineOptions { WarmUp = false });
        using var lease = engine.Rent();
        using var cts = new CancellationTokenSource();
        using var started = new ManualResetEventSlim();

        var run = Task.Factory.StartNew(() => { started.Set(); lease.Run(cts.Token); }, TaskCreationOptions.LongRunning);
        started.Wait();
        Thread.Sleep(100);
        cts.Cancel();

        Assert.Throws<OperationCanceledException>(() => run.GetAwaiter().GetResult());
    }

    [Fact]
    public void Returned_lease_cannot_be_used_and_is_reused_by_the_next_rent()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 2)));
        var lease = engine.Rent();
        lease.Dispose();
        lease.Dispose();

        Assert.Throws<ObjectDisposedException>(() => lease.Run());
        Assert.Throws<ObjectDisposedException>(() => lease.Input<float>(0));
        using var again = engine.Rent();
        Assert.Same(lease, again);
    }

    [Fact]
    public void Disposed_engine_refuses_new_calls()
    {
        var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 2)));
        var lease = engine.Rent();
        engine.Dispose();
        engine.Dispose();

        Assert.Throws<ObjectDisposedException>(() => lease.Run());
        Assert.Throws<ObjectDisposedException>(() => engine.Rent());
        lease.Dispose();
    }

    [Fact]
    public void Several_threads_share_one_engine_without_seeing_each_others_data()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 32)));
        const int threads = 6, calls = 2000;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            using var lease = engine.Rent();
            var input = lease.Input<float>(0);
            for (int c = 0; c < calls; c++)
            {
                float v = t * 100_000 + c;
                input.Fill(v);
                lease.Run();
                var output = lease.Output<float>(0);
                for (int i = 0; i < output.Length; i++)
                    if (output[i] != -v) { failures.Add($"thread {t} call {c}: {output[i]} != {-v}"); break; }
            }
        });

        Assert.Empty(failures);
    }

    [Fact]
    public void Several_threads_share_the_single_tensor_run()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 4)));
        int wrong = 0;

        Parallel.For(0, 4000, i =>
        {
            Span<float> output = stackalloc float[4];
            engine.Run<float, float>([i, i, i, i], output);
            if (output[3] != -i) Interlocked.Increment(ref wrong);
        });

        Assert.Equal(0, wrong);
    }
}
