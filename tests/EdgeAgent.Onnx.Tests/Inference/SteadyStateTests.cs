using System.Globalization;

namespace EdgeAgent.Onnx.Tests.Inference;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    /// <summary>Runs alone, after the parallel tests, so other tests' allocations do not show up in RSS.</summary>
    public const string Name = "memory measurements";
}

[Collection(MemoryMeasurementCollection.Name)]
public sealed class SteadyStateTests
{
    private static InferenceEngine QuantizedEngine() =>
        // QLinearMatMul (uint8 in/out) from the ONNX suite: an INT8 kernel as on the devices.
        InferenceEngine.Load(TestModels.NodeModel("test_qlinearmatmul_2D"));

    [Fact]
    public void Lease_run_allocates_nothing_on_the_managed_heap()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 64)));
        using var lease = engine.Rent();
        var input = lease.Input<float>(0);
        for (int i = 0; i < 2_000; i++) { input[0] = i; lease.Run(); }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++) { input[0] = i; lease.Run(); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(-19_999f, lease.Output<float>(0)[0]);
    }

    [Fact]
    public void Multi_input_quantized_lease_run_allocates_nothing()
    {
        using var engine = QuantizedEngine();
        using var lease = engine.Rent();
        for (int i = 0; i < 2_000; i++) lease.Run();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++) lease.Run();

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Single_tensor_run_and_rent_return_allocate_nothing()
    {
        using var engine = InferenceEngine.Create(TestModels.Load(TestModels.Unary("Neg", 1, 64)));
        var input = new float[64];
        var output = new float[64];
        long[] shape = [1, 64];
        for (int i = 0; i < 2_000; i++) engine.Run<float, float>(input, shape, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++)
        {
            input[0] = i;
            engine.Run<float, float>(input, shape, output);
            using var lease = engine.Rent();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(-19_999f, output[0]);
    }

    [Fact]
    public void Hundred_thousand_inferences_keep_the_heap_flat_and_rss_bounded()
    {
        using var engine = QuantizedEngine();
        using var lease = engine.Rent();
        var a = lease.Input<byte>(0);
        for (int i = 0; i < 10_000; i++) { a[0] = (byte)i; lease.Run(); }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long rssAfter10k = ResidentBytes();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        for (int i = 0; i < 90_000; i++) { a[0] = (byte)i; lease.Run(); }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growth = ResidentBytes() - rssAfter10k;
        Assert.Equal(0, allocated);
        // A leak of 100 bytes per call would add 9 MB over these 90,000 calls.
        Assert.True(growth < 3 * 1024 * 1024, $"RSS grew by {growth} bytes over 90,000 inferences");
    }

    [Fact]
    public void Creating_and_disposing_sessions_and_leases_releases_their_native_memory()
    {
        // 2 MB of weights per session: 150 leaked sessions would add 300 MB.
        byte[] model = HeavyModel();
        CycleSessions(model, 20);
        long before = ResidentBytes();

        CycleSessions(model, 150);

        long growth = ResidentBytes() - before;
        Assert.True(growth < 64 * 1024 * 1024, $"RSS grew by {growth} bytes over 150 session+engine+lease lifecycles");
    }

    [Fact]
    public void Sessions_and_leases_that_are_never_disposed_are_released_by_their_finalizers()
    {
        byte[] model = HeavyModel();
        AbandonSessions(model, 10);
        long before = ResidentBytes();

        AbandonSessions(model, 150);

        long growth = ResidentBytes() - before;
        Assert.True(growth < 64 * 1024 * 1024, $"RSS grew by {growth} bytes over 150 abandoned sessions and leases");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void AbandonSessions(byte[] model, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var session = OnnxSession.Load(model);
            session.Run([OnnxTensor.Create("x", [1, 512], new float[512])]);
            if (i % 10 == 0)
            {
                // Collect as we go, as a long-running process would; otherwise the abandoned sessions pile up first.
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static byte[] HeavyModel()
    {
        var b = new OnnxModelBuilder();
        b.AddOpset("", 13);
        b.AddInput("x", OnnxElementType.Float, [1, 512]);
        b.AddOutput("y", OnnxElementType.Float, [1, 1024]);
        b.AddInitializer(OnnxTensor.Create("w", [512, 1024], Enumerable.Range(0, 512 * 1024).Select(i => i % 7 * 0.01f).ToArray()));
        b.AddNode("MatMul", ["x", "w"], ["y"]);
        return b.Build();
    }

    private static void CycleSessions(byte[] model, int count)
    {
        for (int i = 0; i < count; i++)
        {
            using var engine = InferenceEngine.Create(OnnxSession.Load(model));
            using (var lease = engine.Rent()) lease.Run();
            var extra = new InferenceLease[4];
            for (int j = 0; j < extra.Length; j++) extra[j] = engine.Rent();
            foreach (var l in extra) l.Dispose();
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>VmRSS from /proc/self/status.</summary>
    private static long ResidentBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }
}
