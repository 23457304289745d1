using System.Collections.Concurrent;

namespace EdgeAgent.Onnx.Tests.Inference;

public sealed class HotSwapTests
{
    private static readonly byte[] Neg = TestModels.Unary("Neg", 1, 8);
    private static readonly byte[] Identity = TestModels.Identity(OnnxElementType.Float, 1, 8);

    [Fact]
    public void Swap_to_a_compatible_model_switches_calls_and_keeps_existing_leases_working()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var lease = engine.Rent();
        lease.Input<float>(0).Fill(2f);
        lease.Run();
        Assert.Equal(-2f, lease.Output<float>(0)[0]);

        var result = engine.Swap(TestModels.Load(Identity));

        Assert.False(result.ContractChanged);
        Assert.Equal(1, result.PreviousGeneration);
        Assert.Equal(2, result.Generation);
        Assert.Equal(2, engine.Generation);
        Assert.True(result.PreviousReleased.IsCompleted);
        lease.Run();
        Assert.Equal(2f, lease.Output<float>(0)[0]);
    }

    [Fact]
    public async Task Old_session_is_released_only_after_its_last_in_flight_call()
    {
        var oldSession = TestModels.Load(Neg);
        using var engine = InferenceEngine.Create(oldSession);
        var inFlight = engine.Acquire(); // what a running call holds

        var result = engine.Swap(TestModels.Load(Identity));

        Assert.False(result.PreviousReleased.IsCompleted);
        var x = OnnxTensor.Create("input", [1, 8], new float[8]);
        Assert.Single(oldSession.Run([x])); // still alive for the call that holds it
        inFlight.Release();
        await result.PreviousReleased.WaitAsync(TimeSpan.FromSeconds(30)); // released off the calling thread
        Assert.Throws<ObjectDisposedException>(() => oldSession.Run([x]));
    }

    [Fact]
    public async Task Disposing_the_engine_lets_in_flight_calls_finish_before_the_session_goes()
    {
        var session = TestModels.Load(Neg);
        var engine = InferenceEngine.Create(session);
        var inFlight = engine.Acquire();
        var x = OnnxTensor.Create("input", [1, 8], new float[8]);

        engine.Dispose();

        Assert.Single(session.Run([x]));
        Assert.Throws<ObjectDisposedException>(() => engine.Rent());
        inFlight.Release();
        await inFlight.Released.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Throws<ObjectDisposedException>(() => session.Run([x]));
    }

    [Fact]
    public async Task Swap_under_load_fails_no_call_and_releases_every_replaced_model()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        const int workers = 4, swaps = 20;
        var failures = new ConcurrentQueue<string>();
        long negated = 0, passedThrough = 0;
        using var stop = new CancellationTokenSource();

        var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            using var lease = engine.Rent();
            var input = lease.Input<float>(0);
            long local = 0;
            while (!stop.IsCancellationRequested)
            {
                float v = w * 1_000_000 + (local++ % 1_000_000) + 1;
                input.Fill(v);
                try
                {
                    lease.Run();
                    float y = lease.Output<float>(0)[7];
                    if (y == -v) Interlocked.Increment(ref negated);
                    else if (y == v) Interlocked.Increment(ref passedThrough);
                    else failures.Enqueue($"worker {w}: input {v} gave {y}");
                }
                catch (Exception e)
                {
                    failures.Enqueue($"worker {w}: {e.GetType().Name}: {e.Message}");
                }
            }
        })).ToArray();
        foreach (var t in threads) t.Start();

        var results = new List<ModelSwapResult>();
        for (int i = 0; i < swaps; i++)
        {
            results.Add(engine.Swap(TestModels.Load(i % 2 == 0 ? Identity : Neg)));
            Thread.Sleep(5);
        }
        stop.Cancel();
        foreach (var t in threads) t.Join();

        Assert.Empty(failures);
        Assert.True(negated > 0 && passedThrough > 0, $"negated {negated}, passed through {passedThrough}");
        Assert.Equal(swaps + 1, engine.Generation);
        // Every replaced model is released once its calls have returned (the timeout only bounds a hang).
        await Task.WhenAll(results.Select(r => r.PreviousReleased)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.True(r.PreviousReleased.IsCompletedSuccessfully));
    }

    [Fact]
    public void Incompatible_model_is_refused_and_the_running_model_keeps_serving()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var wider = TestModels.Load(TestModels.Unary("Neg", 1, 16));

        var e = Assert.Throws<ModelContractException>(() => engine.Swap(wider));

        Assert.Contains("input 'input': [1,8] float32 became [1,16] float32", e.Message);
        Assert.Contains("The running model stays active", e.Message);
        Assert.Equal(1, engine.Generation);
        var output = new float[8];
        engine.Run<float, float>(new float[] { 1, 1, 1, 1, 1, 1, 1, 1 }, output);
        Assert.Equal(-1f, output[0]);
        Assert.Single(wider.Run([OnnxTensor.Create("input", [1, 16], new float[16])])); // still the caller's
    }

    [Fact]
    public void Renamed_or_retyped_inputs_are_incompatible()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var retyped = TestModels.Load(TestModels.Identity(OnnxElementType.Double, 1, 8));

        var e = Assert.Throws<ModelContractException>(() => engine.Swap(retyped));

        Assert.Contains("input 'input': [1,8] float32 became [1,8] float64", e.Message);
    }

    [Fact]
    public void Accepted_contract_change_switches_and_old_leases_are_told_to_renew()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var oldLease = engine.Rent();

        var result = engine.Swap(TestModels.Load(TestModels.Unary("Neg", 1, 16)), acceptContractChange: true);

        Assert.True(result.ContractChanged);
        Assert.Equal(new long[] { 1, 16 }, engine.Inputs[0].Shape);
        var stale = Assert.Throws<ModelContractException>(() => oldLease.Run());
        Assert.Contains("dispose this lease and rent a new one", stale.Message);
        using var newLease = engine.Rent();
        Assert.NotSame(oldLease, newLease);
        newLease.Input<float>(0).Fill(4f);
        newLease.Run();
        Assert.Equal(-4f, newLease.Output<float>(0)[15]);
    }

    [Fact]
    public void A_model_that_loads_but_cannot_run_is_caught_by_the_warm_up_before_switching()
    {
        // Same contract as the running model, but every run fails inside ORT: it gathers from an 8-element table at
        // index Cast(input) + 100, which is out of bounds.
        var b = new OnnxModelBuilder();
        b.AddOpset("", 13);
        b.AddInput("input", OnnxElementType.Float, [1, 8]);
        b.AddOutput("output", OnnxElementType.Float, [1, 8]);
        b.AddInitializer(OnnxTensor.Create("table", [8], new float[8]));
        b.AddInitializer(OnnxTensor.Create("offset", [], new long[] { 100 }));
        b.AddNode("Cast", ["input"], ["index"]).WithInt("to", (long)OnnxElementType.Int64);
        b.AddNode("Add", ["index", "offset"], ["shifted"]);
        b.AddNode("Gather", ["table", "shifted"], ["output"]).WithInt("axis", 0);
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var broken = TestModels.Load(b.Build());

        var e = Assert.Throws<OnnxRuntimeException>(() => engine.Swap(broken));

        Assert.StartsWith("running model '(", e.Message);
        Assert.Equal(1, engine.Generation);
        var output = new float[8];
        engine.Run<float, float>(new float[] { 3, 3, 3, 3, 3, 3, 3, 3 }, output);
        Assert.Equal(-3f, output[0]);
    }

    [Fact]
    public void An_output_shape_that_changes_is_a_contract_change()
    {
        // Declares output [1,8] but computes [1,4]: ORT reports the output as [1,?], which the engine refuses to
        // treat as the same contract.
        var b = new OnnxModelBuilder();
        b.AddOpset("", 13);
        b.AddInput("input", OnnxElementType.Float, [1, 8]);
        b.AddOutput("output", OnnxElementType.Float, [1, 8]);
        b.AddInitializer(OnnxTensor.Create("starts", [1], new long[] { 0 }));
        b.AddInitializer(OnnxTensor.Create("ends", [1], new long[] { 4 }));
        b.AddInitializer(OnnxTensor.Create("axes", [1], new long[] { 1 }));
        b.AddNode("Slice", ["input", "starts", "ends", "axes"], ["output"]);
        using var engine = InferenceEngine.Create(TestModels.Load(Neg));
        using var sliced = TestModels.Load(b.Build());

        var e = Assert.Throws<ModelContractException>(() => engine.Swap(sliced));

        Assert.Contains("output 'output': [1,8] float32 became [1,?] float32", e.Message);
    }
}
