using EdgeAgent.Sensors.Pipeline;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Tests.Support;
using EdgeAgent.Sensors.Windowing;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Pipeline;

public sealed class SensorPipelineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A CSV recording whose value v equals the sample index, 100 Hz.</summary>
    private LineStreamSource IndexedFile(int count)
    {
        string path = _dir.File($"idx{count}.csv");
        File.WriteAllLines(path, new[] { "t,v" }.Concat(Enumerable.Range(0, count).Select(i => $"{i * 0.01:0.00},{i}")));
        return LineStreamSource.ForFile(path, new LineStreamSettings { NominalRateHz = 100 });
    }

    private static readonly WindowSpec TenByTen = new() { Length = 10, Hop = 10, Channels = ["v"] };

    [Fact]
    public async Task Synthetic_source_to_windows_counts_windows_and_the_injected_nan_samples()
    {
        var settings = new SyntheticSettings
        {
            Seed = 9, RateHz = 50, RealTime = false, MaxSamples = 5000,
            AnomalyRatePerSecond = 0.5, AnomalyKinds = SyntheticAnomalyKinds.NanBurst,
        };
        await using var source = new SyntheticSource(settings);
        var spec = new WindowSpec { Length = 64, Hop = 32, Channels = ["ax", "ay", "az"], Layout = WindowLayout.SamplesFirst };
        var pipeline = new SensorPipeline(source, spec);
        Assert.Equal(SampleBackPressure.Wait, pipeline.BackPressure);
        var buffer = GC.AllocateArray<float>(spec.ElementCount, pinned: true);
        long windows = 0;
        bool finite = true;
        await pipeline.RunAsync(buffer, (info, _) =>
        {
            windows++;
            finite &= buffer.All(float.IsFinite);
            return ValueTask.CompletedTask;
        }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        long nan = source.Generator.NanSamplesInjected;
        Assert.True(nan > 0);
        Assert.Equal(nan, source.Stats.Bad(BadSampleReason.NonFinite));
        // Skipped NaN samples leave holes in the timeline; a burst of 5 is a 6-period interval (> 3), i.e. a
        // gap that restarts the window. Expected windows, from the same seed: per run of valid samples of
        // length n, (n − 64) / 32 + 1 windows when n ≥ 64.
        var replay = new SyntheticAccelerometer(settings);
        var row = new float[3];
        var runs = new List<int> { 0 };
        bool inBurst = false;
        for (int i = 0; i < 5000; i++)
        {
            replay.Next(row);
            bool bad = row.Any(float.IsNaN);
            if (!bad && inBurst) runs.Add(0);
            if (!bad) runs[^1]++;
            inBurst = bad;
        }
        Assert.Equal(runs.Count - 1, source.Stats.Gaps);
        Assert.Equal(runs.Where(n => n >= 64).Sum(n => (n - 64) / 32 + 1), windows);
        Assert.Equal(windows, source.Stats.Windows);
        Assert.True(finite);
        Assert.Equal(0, source.Stats.Dropped);
        Assert.Equal(0, pipeline.ExtraBuffersAllocated);
    }

    [Fact]
    public async Task Wait_policy_holds_the_source_back_and_loses_nothing()
    {
        await using var source = IndexedFile(200);
        var pipeline = new SensorPipeline(source, TenByTen, new SensorPipelineOptions { QueueCapacity = 4 });
        Assert.Equal(SampleBackPressure.Wait, pipeline.BackPressure);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firsts = new List<float>();
        var buffer = new float[10];
        var run = pipeline.RunAsync(buffer, async (_, _) =>
        {
            firsts.Add(buffer[0]);
            if (firsts.Count == 1) await gate.Task; // the consumer stalls on the first window
        }, CancellationToken.None);

        // The queue fills up and the reader is held: 10 consumed, 4 queued, 1 waiting to be written.
        await Eventually.True(() => pipeline.QueuedSamples == 4 && source.Stats.Accepted == 15, "queue full, source waiting");
        await Task.Delay(50);
        Assert.Equal(15, source.Stats.Accepted);
        gate.SetResult();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i * 10f), firsts);
        Assert.Equal(0, source.Stats.Dropped);
    }

    [Fact]
    public async Task Drop_oldest_policy_keeps_the_newest_samples_and_counts_every_drop()
    {
        // A FIFO fed in two batches by the test, so it is known which samples are queued when.
        string path = _dir.File("live.fifo");
        await using var source = LineStreamSource.ForFifo(path, new LineStreamSettings { Channels = ["v"], NominalRateHz = 100 });
        var pipeline = new SensorPipeline(source, TenByTen,
            new SensorPipelineOptions { QueueCapacity = 16, BackPressure = SampleBackPressure.DropOldest });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var windows = new List<float[]>();
        var buffer = new float[10];
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(buffer, async (_, ct) =>
        {
            lock (windows) windows.Add((float[])buffer.Clone());
            if (windows.Count == 1) await gate.Task.WaitAsync(ct);
        }, cts.Token);
        int Windows() { lock (windows) return windows.Count; }

        static string Lines(int from, int to) => string.Concat(Enumerable.Range(from, to - from).Select(i => $"{i * 0.01:0.00},{i}\n"));
        await Eventually.True(() => File.Exists(path), "FIFO created");
        await File.WriteAllTextAsync(path, "t,v\n" + Lines(0, 10));
        await Eventually.True(() => Windows() == 1, "first window; the consumer now stalls");
        await File.WriteAllTextAsync(path, Lines(10, 1000));
        // 990 more samples against a queue of 16: the 974 oldest are dropped and counted.
        await Eventually.True(() => source.Stats.Accepted == 1000 && pipeline.QueuedSamples == 16, "second batch read",
            state: () => $"accepted {source.Stats.Accepted}, dropped {source.Stats.Dropped}, queued {pipeline.QueuedSamples}");
        Assert.Equal(974, source.Stats.Dropped);
        gate.SetResult();
        await Eventually.True(() => Windows() == 2 && pipeline.QueuedSamples == 0, "queue drained");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        // The newest 16 samples (984..999) survived; the jump from 9 to 984 is a gap, so the window restarted there.
        Assert.Equal(Enumerable.Range(984, 10).Select(i => (float)i), windows[1]);
        Assert.Equal(1, source.Stats.Gaps);
        Assert.Equal(0, pipeline.ExtraBuffersAllocated);
    }

    [Fact]
    public async Task A_source_fault_ends_the_run_with_the_source_exception()
    {
        string path = _dir.File("broken.csv");
        File.WriteAllText(path, "t,w\n0,1\n");
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings { Channels = ["v"] });
        var pipeline = new SensorPipeline(source, TenByTen);
        var e = await Assert.ThrowsAsync<SensorSourceException>(() =>
            pipeline.RunAsync(new float[10], (_, _) => ValueTask.CompletedTask, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.StartsWith($"file:{path}: CSV header 't,w' lacks channel(s) 'v'", e.Message);
    }

    [Fact]
    public async Task Cancellation_stops_a_waiting_source_promptly()
    {
        var time = new ManualTimeProvider(); // never advanced: the source waits forever for its next sample
        await using var source = new SyntheticSource(new SyntheticSettings { RateHz = 1 }, time);
        var pipeline = new SensorPipeline(source, new WindowSpec { Length = 4, Hop = 1, Channels = ["ax"] });
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(new float[4], (_, _) => ValueTask.CompletedTask, cts.Token);
        await Eventually.True(() => source.Stats.Accepted == 1 && time.ArmedTimers == 1, "source waiting");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_window_buffer_smaller_than_the_window_is_refused()
    {
        await using var source = IndexedFile(5);
        var pipeline = new SensorPipeline(source, TenByTen);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => pipeline.RunAsync(new float[9], (_, _) => ValueTask.CompletedTask, CancellationToken.None));
        Assert.StartsWith("window buffer holds 9 floats; the window needs 10", e.Message);
    }
}
