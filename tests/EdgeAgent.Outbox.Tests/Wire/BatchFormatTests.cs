using System.IO.Compression;
using System.Text;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Wire;

public sealed class BatchFormatTests
{
    private const string Boot = "0123456789abcdef0123456789abcdef";
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 5, 0, 0, TimeSpan.Zero);

    private static WireEvent Json(long seq, string json) =>
        new(seq, T0.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes(json), PayloadIsJson: true);

    [Fact]
    public void Json_binary_and_merged_events_round_trip_through_encoder_and_decoder()
    {
        var events = new[]
        {
            Json(3, """{"latencyUs":12.5,"label":"ok"}"""),
            new WireEvent(7, T0, 9, TelemetryEventKind.Data, new byte[] { 0, 1, 2, 255 }, PayloadIsJson: false, "model/x0", 4, 3),
            Json(8, """{"stream":"telemetry","bootId":"x","fromSeq":1,"toSeq":2,"count":2,"reason":"r"}""") with { Kind = TelemetryEventKind.Tombstone },
        };
        var encoded = new TelemetryBatchEncoder().Encode("dev-1", TelemetryStream.Drift, Boot, events, T0, epoch: 2);

        var batch = TelemetryBatchDecoder.Decode(encoded.Payload);

        Assert.Equal(("dev-1", "drift", Boot, 3L, 8L, 3), (batch.DeviceId, batch.Stream, batch.BootId, batch.FirstSeq, batch.LastSeq, batch.Count));
        Assert.Equal(2, batch.Epoch);
        Assert.Equal(12.5, batch.Events[0].Data!.Value.GetProperty("latencyUs").GetDouble());
        Assert.Equal(T0.AddSeconds(3), batch.Events[0].Ts);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, batch.Events[1].Bin);
        Assert.Equal(("model/x0", 4L, 3, 9), (batch.Events[1].Key, batch.Events[1].MergedFromSeq, batch.Events[1].MergedCount, batch.Events[1].Prio));
        Assert.Equal(TelemetryEventKind.Tombstone, batch.Events[2].KindValue);
    }

    [Fact]
    public void Large_repetitive_batches_are_gzipped_and_still_decode()
    {
        var events = Enumerable.Range(1, 200).Select(i => Json(i, $$"""{"n":{{i}},"label":"normal","score":0.25}""")).ToArray();
        var encoded = new TelemetryBatchEncoder().Encode("dev-1", TelemetryStream.Telemetry, Boot, events, T0);

        Assert.True(encoded.Gzipped);
        Assert.True(encoded.Payload.Length < encoded.JsonLength / 2);
        Assert.Equal(200, TelemetryBatchDecoder.Decode(encoded.Payload).Count);
    }

    [Fact]
    public void Small_batches_are_sent_as_plain_json()
    {
        var encoded = new TelemetryBatchEncoder().Encode("dev-1", TelemetryStream.Update, Boot, [Json(1, """{"state":"idle"}""")], T0);
        Assert.False(encoded.Gzipped);
        Assert.Equal((byte)'{', encoded.Payload[0]);
    }

    public static TheoryData<string, string> BadBatches => new()
    {
        { """{"schema":"edgeagent.telemetry.batch/9","deviceId":"d","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "unknown schema" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"weather","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "unknown stream" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"XYZ","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "bootId" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":2,"lastSeq":1,"count":2,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":2,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}},{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "strictly increasing" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":5,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "count 5" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{},"bin":"AA=="}]}""", "exactly one of" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"a/b","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[{"seq":1,"ts":"2026-11-22T05:00:00Z","kind":"data","data":{}}]}""", "topic level" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"0123456789abcdef0123456789abcdef","firstSeq":1,"lastSeq":1,"count":1,"sentAt":"2026-11-22T05:00:00Z","events":[]}""", "no events" },
        { """{"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"0123""", "not valid batch JSON" },
    };

    [Theory]
    [MemberData(nameof(BadBatches))]
    public void Contract_violations_are_rejected_with_a_message_naming_the_problem(string json, string expected)
    {
        var ex = Assert.Throws<TelemetryFormatException>(() => TelemetryBatchDecoder.Decode(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gzip_bomb_is_rejected_before_it_exhausts_memory()
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 20; i++) gz.Write(zeros);
        }
        var ex = Assert.Throws<TelemetryFormatException>(() => TelemetryBatchDecoder.Decode(ms.ToArray()));
        Assert.Contains("exceeds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_gzip_message_is_rejected()
    {
        var events = Enumerable.Range(1, 200).Select(i => Json(i, $$"""{"n":{{i}}}""")).ToArray();
        var encoded = new TelemetryBatchEncoder().Encode("dev-1", TelemetryStream.Telemetry, Boot, events, T0);
        Assert.True(encoded.Gzipped);
        Assert.Throws<TelemetryFormatException>(() => TelemetryBatchDecoder.Decode(encoded.Payload.AsSpan(0, encoded.Payload.Length / 2)));
    }

    [Theory]
    [InlineData(TelemetryStream.Telemetry, "edgeagent/v1/dev-7/telemetry")]
    [InlineData(TelemetryStream.FallbackCase, "edgeagent/v1/dev-7/telemetry")]
    [InlineData(TelemetryStream.Drift, "edgeagent/v1/dev-7/drift")]
    [InlineData(TelemetryStream.Update, "edgeagent/v1/dev-7/update")]
    public void Streams_map_to_the_design_topics(TelemetryStream stream, string topic) =>
        Assert.Equal(topic, TelemetryStreams.Topic("dev-7", stream));

    [Theory]
    [InlineData("a/b")]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("")]
    public void Device_ids_that_are_not_one_topic_level_are_refused(string id) =>
        Assert.Throws<ArgumentException>(() => TelemetryStreams.Topic(id, TelemetryStream.Telemetry));
}
