using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Windowing;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Windowing;

public sealed class WindowerTests
{
    private static readonly string[] SourceChannels = ["a", "b", "c"];

    // Sample i: a = i, b = 100 + i, c = 10 + 2i, 10 ms apart.
    private static SensorSample Sample(int i, long? timeNs = null) =>
        new(timeNs ?? i * 10_000_000L, DateTimeOffset.UnixEpoch.AddMilliseconds(i), new float[] { i, 100 + i, 10 + 2 * i });

    private static WindowSpec Spec(WindowLayout layout, int length = 3, int hop = 2) => new()
    {
        Length = length,
        Hop = hop,
        Channels = ["c", "a"],
        Mean = [10f, 1f],
        Std = [2f, 4f],
        Layout = layout,
    };

    private static List<float[]> Run(Windower w, int samples)
    {
        var windows = new List<float[]>();
        var buffer = new float[w.Spec.ElementCount];
        for (int i = 0; i < samples; i++)
            if (w.Push(Sample(i)) == WindowerResult.WindowReady)
            {
                w.WriteWindow(buffer);
                windows.Add((float[])buffer.Clone());
            }
        return windows;
    }

    [Fact]
    public void Channels_first_windows_follow_length_hop_channel_order_and_normalization()
    {
        var w = new Windower(Spec(WindowLayout.ChannelsFirst), SourceChannels, new SensorStats());
        var windows = Run(w, 7);
        // c → (c − 10) / 2 = i ; a → (a − 1) / 4
        Assert.Equal(3, windows.Count);
        Assert.Equal(new[] { 0f, 1f, 2f, -0.25f, 0f, 0.25f }, windows[0]);
        Assert.Equal(new[] { 2f, 3f, 4f, 0.25f, 0.5f, 0.75f }, windows[1]);
        Assert.Equal(new[] { 4f, 5f, 6f, 0.75f, 1f, 1.25f }, windows[2]);
    }

    [Fact]
    public void Samples_first_windows_interleave_channels_per_sample_across_ring_wrap()
    {
        var w = new Windower(Spec(WindowLayout.SamplesFirst), SourceChannels, new SensorStats());
        var windows = Run(w, 7);
        Assert.Equal(new[] { 0f, -0.25f, 1f, 0f, 2f, 0.25f }, windows[0]);
        Assert.Equal(new[] { 2f, 0.25f, 3f, 0.5f, 4f, 0.75f }, windows[1]);
        Assert.Equal(new[] { 4f, 0.75f, 5f, 1f, 6f, 1.25f }, windows[2]);
    }

    [Fact]
    public void Hop_longer_than_length_skips_samples_between_windows()
    {
        var spec = new WindowSpec { Length = 2, Hop = 3, Channels = ["a"] };
        var w = new Windower(spec, SourceChannels, new SensorStats());
        var windows = Run(w, 9);
        Assert.Equal(new[] { new[] { 0f, 1f }, new[] { 3f, 4f }, new[] { 6f, 7f } }, windows);
    }

    [Fact]
    public void Window_info_numbers_windows_and_spans_first_to_last_sample()
    {
        var w = new Windower(Spec(WindowLayout.ChannelsFirst), SourceChannels, new SensorStats());
        var buffer = new float[6];
        var infos = new List<WindowInfo>();
        for (int i = 0; i < 5; i++)
            if (w.Push(Sample(i)) == WindowerResult.WindowReady) infos.Add(w.WriteWindow(buffer));
        Assert.Equal(new WindowInfo(1, 0, 20_000_000, DateTimeOffset.UnixEpoch.AddMilliseconds(2)), infos[0]);
        Assert.Equal(new WindowInfo(2, 20_000_000, 40_000_000, DateTimeOffset.UnixEpoch.AddMilliseconds(4)), infos[1]);
    }

    [Fact]
    public void A_gap_larger_than_the_threshold_restarts_the_window()
    {
        var stats = new SensorStats();
        var timing = new SampleTimingMonitor(nominalRateHz: 100, gapPeriods: 3, rateTolerance: 0.1, stats);
        var spec = new WindowSpec { Length = 3, Hop = 1, Channels = ["a"] };
        var w = new Windower(spec, SourceChannels, stats, timing);
        var buffer = new float[3];
        long[] times = [0, 10, 20, 100, 110, 120, 150];
        var results = new List<WindowerResult>();
        var windows = new List<(WindowInfo Info, float[] Values)>();
        for (int i = 0; i < times.Length; i++)
        {
            var r = w.Push(Sample(i, times[i] * 1_000_000));
            results.Add(r);
            if (r == WindowerResult.WindowReady) windows.Add((w.WriteWindow(buffer), (float[])buffer.Clone()));
        }
        // 20 → 100 ms is 8 periods (> 3): reset; 120 → 150 ms is exactly 3 periods: not a gap.
        Assert.Equal(new[]
        {
            WindowerResult.Buffered, WindowerResult.Buffered, WindowerResult.WindowReady,
            WindowerResult.Buffered, WindowerResult.Buffered, WindowerResult.WindowReady, WindowerResult.WindowReady,
        }, results);
        Assert.Equal(1, stats.Gaps);
        Assert.Equal(new[] { 3f, 4f, 5f }, windows[1].Values);
        Assert.Equal(100_000_000, windows[1].Info.FirstSampleTimeNs);
        Assert.Equal(new[] { 4f, 5f, 6f }, windows[2].Values);
    }

    [Fact]
    public void Non_finite_values_on_used_channels_are_counted_and_skipped_but_unused_channels_may_be_nan()
    {
        var stats = new SensorStats();
        var spec = new WindowSpec { Length = 2, Hop = 2, Channels = ["a"] };
        var w = new Windower(spec, SourceChannels, stats);
        Assert.Equal(WindowerResult.Rejected, w.Push(new SensorSample(0, default, new[] { float.NaN, 0f, 0f })));
        Assert.Equal(WindowerResult.Rejected, w.Push(new SensorSample(1, default, new[] { float.PositiveInfinity, 0f, 0f })));
        Assert.Equal(WindowerResult.Rejected, w.Push(new SensorSample(2, default, new[] { float.NegativeInfinity, 0f, 0f })));
        Assert.Equal(WindowerResult.Buffered, w.Push(new SensorSample(3, default, new[] { 1f, float.NaN, 0f })));
        Assert.Equal(WindowerResult.WindowReady, w.Push(new SensorSample(4, default, new[] { 2f, 0f, float.NaN })));
        Assert.Equal(3, stats.Bad(BadSampleReason.NonFinite));
        var buffer = new float[2];
        w.WriteWindow(buffer);
        Assert.Equal(new[] { 1f, 2f }, buffer);
    }

    [Fact]
    public void Wrong_length_and_backward_time_are_counted_and_skipped()
    {
        var stats = new SensorStats();
        var timing = new SampleTimingMonitor(100, 3, 0.1, stats);
        var w = new Windower(new WindowSpec { Length = 2, Hop = 1, Channels = ["a"] }, SourceChannels, stats, timing);
        Assert.Equal(WindowerResult.Rejected, w.Push(new SensorSample(0, default, new[] { 1f, 2f })));
        Assert.Equal(WindowerResult.Buffered, w.Push(Sample(1, 20_000_000)));
        Assert.Equal(WindowerResult.Rejected, w.Push(Sample(2, 10_000_000)));
        Assert.Equal(WindowerResult.WindowReady, w.Push(Sample(3, 30_000_000)));
        Assert.Equal(1, stats.Bad(BadSampleReason.WrongArity));
        Assert.Equal(1, stats.Bad(BadSampleReason.TimeWentBackwards));
    }

    [Fact]
    public void A_model_channel_the_source_lacks_is_refused_with_both_channel_lists()
    {
        var spec = new WindowSpec { Length = 2, Hop = 1, Channels = ["a", "gz"] };
        var e = Assert.Throws<WindowSpecException>(() => new Windower(spec, SourceChannels, new SensorStats()));
        Assert.Equal("model input channel 'gz' is not provided by the sensor source (it provides a, b, c)", e.Message);
    }

    [Fact]
    public void Invalid_specs_list_every_problem()
    {
        var spec = new WindowSpec { Length = 0, Hop = 0, Channels = ["a", "a"], Mean = [0f], Std = [0f, 1f] };
        var problems = spec.Validate();
        Assert.Contains("window.length: must be at least 1 (is 0)", problems);
        Assert.Contains("window.hop: must be at least 1 (is 0)", problems);
        Assert.Contains("window.channels: duplicate channel(s) a", problems);
        Assert.Contains("window.mean: has 1 entries, expected one per channel (2)", problems);
        Assert.Contains("window.std: channel 'a' has std 0; it must be a positive finite number", problems);
        Assert.Throws<WindowSpecException>(() => new Windower(spec, SourceChannels, new SensorStats()));
    }

    [Fact]
    public void Too_small_destination_is_refused_with_the_needed_size()
    {
        var w = new Windower(Spec(WindowLayout.ChannelsFirst), SourceChannels, new SensorStats());
        Run(w, 3);
        var e = Assert.Throws<ArgumentException>(() => w.WriteWindow(new float[5]));
        Assert.StartsWith("window buffer holds 5 floats; this window needs 6 (3 samples × 2 channels)", e.Message);
    }

    [Fact]
    public void Steady_state_windowing_allocates_nothing_per_window()
    {
        var stats = new SensorStats();
        var timing = new SampleTimingMonitor(100, 3, 0.1, stats);
        var spec = new WindowSpec
        {
            Length = 128, Hop = 32, Channels = ["c", "b", "a"],
            Mean = [1f, 2f, 3f], Std = [0.5f, 1.5f, 2.5f], Layout = WindowLayout.ChannelsFirst,
        };
        var w = new Windower(spec, SourceChannels, stats, timing);
        var samples = new SensorSample[4096];
        for (int i = 0; i < samples.Length; i++)
            samples[i] = new SensorSample(i * 10_000_000L, DateTimeOffset.UnixEpoch, new float[] { i, i * 0.5f, -i });
        var buffer = GC.AllocateArray<float>(spec.ElementCount, pinned: true);
        for (int i = 0; i < 512; i++) Step(w, samples[i], buffer); // warm-up (JIT, tiering)

        long before = GC.GetAllocatedBytesForCurrentThread();
        int windows = 0;
        for (int i = 512; i < samples.Length; i++) windows += Step(w, samples[i], buffer);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((samples.Length - 512) / 32, windows);
        Assert.Equal(0, allocated);

        static int Step(Windower w, in SensorSample s, float[] buffer)
        {
            if (w.Push(s) != WindowerResult.WindowReady) return 0;
            w.WriteWindow(buffer);
            return 1;
        }
    }
}
