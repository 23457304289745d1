using EdgeAgent.Sensors.Pipeline;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Tests.Support;
using EdgeAgent.Sensors.Windowing;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Streams;

public sealed class FileSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string content)
    {
        string path = _dir.File(name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public async Task Csv_file_channels_come_from_the_header_and_timestamps_become_sample_time()
    {
        string path = Write("rec.csv", "t,ax,ay\n0.0,1,2\n0.02,3,4\n0.04,5,6\n");
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings());
        Assert.Equal(new[] { "ax", "ay" }, source.Channels);
        var samples = await Collect.SamplesAsync(source);
        Assert.Equal(new long[] { 0, 20_000_000, 40_000_000 }, samples.Select(s => s.TimeNs));
        Assert.Equal(new[] { 3f, 4f }, samples[1].Values);
        Assert.Equal(SampleBackPressure.Wait, source.PreferredBackPressure);
        Assert.Equal(3, source.Stats.Accepted);
    }

    [Fact]
    public async Task A_byte_order_mark_from_a_spreadsheet_export_is_ignored()
    {
        string path = _dir.File("excel.csv");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "ax,t,ay\r\n1,0.5,2\r\n"u8]);
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings());
        Assert.Equal(new[] { "ax", "ay" }, source.Channels);
        var sample = Assert.Single(await Collect.SamplesAsync(source));
        Assert.Equal(new[] { 1f, 2f }, sample.Values);
        Assert.Equal(500_000_000, sample.TimeNs);
        Assert.Equal(0, source.Stats.BadTotal);
    }

    [Fact]
    public async Task Malformed_lines_in_a_file_are_counted_and_the_good_ones_still_arrive()
    {
        string path = Write("bad.jsonl", string.Join('\n',
            """{"t": 0, "ax": 1, "ay": 1}""",
            """{"t": 0.1, "ax": 2}""",
            """{"t": 0.2, "ax": 3, "ay": 3, "bogus": 1}""",
            """garbage""",
            new string('x', 5000),
            """{"t": 0.3, "ax": 4, "ay": 4}""",
            """{"t": 0.4, "ax": 5, "ay": 5}""")); // no final newline
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings { Format = LineFormat.Jsonl, Channels = ["ax", "ay"] });
        var samples = await Collect.SamplesAsync(source);
        Assert.Equal(new[] { 1f, 4f, 5f }, samples.Select(s => s.Values[0]));
        var snap = source.Stats.Snapshot();
        Assert.Equal(1, snap.Bad[BadSampleReason.WrongArity]);
        Assert.Equal(1, snap.Bad[BadSampleReason.UnknownChannel]);
        Assert.Equal(1, snap.Bad[BadSampleReason.Unparseable]);
        Assert.Equal(1, snap.Bad[BadSampleReason.LineTooLong]);
    }

    [Fact]
    public void A_missing_file_is_reported_with_its_path()
    {
        var e = Assert.Throws<SensorSourceException>(() => LineStreamSource.ForFile(_dir.File("nope.csv"), new LineStreamSettings()));
        Assert.Equal($"file {_dir.File("nope.csv")} does not exist", e.Message);
    }

    [Fact]
    public async Task Recorded_timing_releases_each_sample_at_its_offset_divided_by_speed()
    {
        // Offsets 0, 0.5, 0.5, 2.0, 1.0 (backwards), 3.0 s at speed 2 → due at 0, 0.25, 0.25, 1.0, (no wait), 1.5 s.
        string path = Write("timed.csv", "t,v\n100.0,1\n100.5,2\n100.5,3\n102.0,4\n101.0,5\n103.0,6\n");
        var time = new ManualTimeProvider();
        var start = time.GetUtcNow();
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings { Replay = ReplayTiming.Recorded, Speed = 2 }, time);
        var received = new List<(float Value, TimeSpan At)>();
        var reader = Task.Run(async () =>
        {
            await foreach (var s in source.ReadAllAsync(CancellationToken.None))
                lock (received) received.Add((s.Values.Span[0], s.WallTime - start));
        });
        int Count() { lock (received) return received.Count; }

        await Eventually.True(() => Count() == 1 && time.ArmedTimers == 1, "first sample, then a wait for the second");
        time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.Equal(1, Count());
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.True(() => Count() == 3 && time.ArmedTimers == 1, "samples 2 and 3 (same timestamp)");
        time.Advance(TimeSpan.FromMilliseconds(750));
        await Eventually.True(() => Count() == 5 && time.ArmedTimers == 1, "sample 4 and the backward sample 5 right after it");
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.Equal(5, Count());
        time.Advance(TimeSpan.FromMilliseconds(1));
        await reader.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, received.Select(r => r.Value));
        Assert.Equal(new[] { 0, 250, 250, 1000, 1000, 1500 }, received.Select(r => (int)r.At.TotalMilliseconds));
    }

    [Fact]
    public async Task Recorded_replay_needs_timestamps_on_every_line()
    {
        string jsonl = Write("partly.jsonl", "{\"t\": 0, \"v\": 1}\n{\"v\": 2}\n{\"t\": 0, \"v\": 3}\n");
        await using var source = LineStreamSource.ForFile(jsonl,
            new LineStreamSettings { Format = LineFormat.Jsonl, Channels = ["v"], Replay = ReplayTiming.Recorded });
        Assert.Equal(new[] { 1f, 3f }, (await Collect.SamplesAsync(source)).Select(s => s.Values[0]));
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.WrongArity));

        string csv = Write("untimed.csv", "v\n1\n2\n");
        await using var untimed = LineStreamSource.ForFile(csv, new LineStreamSettings { Replay = ReplayTiming.Recorded });
        var e = await Assert.ThrowsAsync<SensorSourceException>(() => Collect.SamplesAsync(untimed));
        Assert.Equal($"file:{csv}: replay at recorded timing needs the timestamp column 't', but the CSV header is 'v'", e.Message);

        // Without recorded replay the same data is fine: samples get their arrival time.
        await using var fast = LineStreamSource.ForFile(csv, new LineStreamSettings());
        Assert.Equal(2, (await Collect.SamplesAsync(fast)).Count);
    }

    [Fact]
    public async Task As_fast_as_possible_ignores_timestamps_for_pacing_but_keeps_them_for_gap_detection()
    {
        // 50 Hz data with a 1 s hole: replayed instantly, the pipeline still sees the gap and resets the window.
        var lines = new List<string> { "t,v" };
        for (int i = 0; i < 10; i++) lines.Add($"{i * 0.02:0.00},{i}");
        for (int i = 0; i < 10; i++) lines.Add($"{1.2 + i * 0.02:0.00},{100 + i}");
        string path = Write("gap.csv", string.Join('\n', lines));
        var time = new ManualTimeProvider(); // never advanced: any wait would hang the test
        await using var source = LineStreamSource.ForFile(path, new LineStreamSettings { NominalRateHz = 50 }, time);
        var pipeline = new SensorPipeline(source, new WindowSpec { Length = 4, Hop = 4, Channels = ["v"] });
        var windows = new List<float[]>();
        var buffer = new float[4];
        await pipeline.RunAsync(buffer, (_, _) => { windows.Add((float[])buffer.Clone()); return ValueTask.CompletedTask; }, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(new[] { new[] { 0f, 1, 2, 3 }, new[] { 4f, 5, 6, 7 }, new[] { 100f, 101, 102, 103 }, new[] { 104f, 105, 106, 107 } }, windows);
        Assert.Equal(1, source.Stats.Gaps);
        Assert.Equal(50.0, source.Stats.ObservedRateHz!.Value, 1);
    }
}
