using System.Text.Json;
using EdgeAgent.Outbox.Drift;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Pipeline.Tests.Drift;

public sealed class DriftSnapshotMergerTests
{
    private static readonly WindowSpec Spec = new() { Length = 8, Hop = 8, Channels = ["x"] };

    private static DriftWindow Snapshot(int offset, long seq)
    {
        var monitor = new DriftMonitor("m", Spec, null, new DriftMonitorOptions { Random = new Random(1) });
        var window = new float[8];
        for (int w = 0; w < 100; w++)
        {
            for (int i = 0; i < 8; i++) window[i] = offset + (w * 8 + i) % 50;
            monitor.Add(window, new WindowInfo(w, (w * 8L) * 1000, (w * 8L + 7) * 1000, DateTimeOffset.UnixEpoch.AddSeconds(offset + w)));
        }
        var s = monitor.TakeSnapshot().Single();
        return new DriftWindow(seq, s.WindowEnd, JsonSerializer.SerializeToUtf8Bytes(s, PipelineJsonContext.Default.DriftWindowSnapshot), PayloadFormat.Json, 1);
    }

    [Fact]
    public void Json_drift_windows_merge_with_exact_count_moments_and_span()
    {
        var a = Snapshot(0, 1);
        var b = Snapshot(1000, 2);

        var merged = new DriftSnapshotMerger(new Random(3)).Merge("m/x", [a, b]);

        Assert.NotNull(merged);
        var s = JsonSerializer.Deserialize(merged, PipelineJsonContext.Default.DriftWindowSnapshot)!;
        Assert.Equal(1600, s.Count);
        var sketch = KllFloatsSketch.Deserialize(Convert.FromBase64String(s.Kll));
        Assert.Equal(1600, sketch.N);
        Assert.Equal(0f, sketch.MinItem);
        Assert.Equal(1049f, sketch.MaxItem);
        Assert.Equal((24.5 + 1024.5) / 2, s.Mean, 6);
        Assert.True(s.WindowEnd > s.WindowStart);
        Assert.Null(s.Score);
    }

    [Fact]
    public void Malformed_or_mixed_windows_are_left_alone()
    {
        var good = Snapshot(0, 1);
        var garbage = new DriftWindow(2, DateTimeOffset.UnixEpoch, "{\"schema\":\"edgeagent.drift.window/1\""u8.ToArray(), PayloadFormat.Json, 1);
        var binary = new DriftWindow(3, DateTimeOffset.UnixEpoch, new KllFloatsSketch().ToByteArray(), PayloadFormat.Binary, 1);

        var merger = new DriftSnapshotMerger();
        Assert.Null(merger.Merge("m/x", [good, garbage]));
        Assert.Null(merger.Merge("m/x", [good, binary]));
    }
}
