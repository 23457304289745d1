using System.Text;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Wire;

public sealed class AckFormatTests
{
    private const string Boot = "5f0c3a9e6b2d4c18a7e1f0b2c3d4e5f6";

    [Fact]
    public void An_ack_round_trips_with_the_documented_field_names()
    {
        var ack = new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = Boot, Stream = "fallback-case", Epoch = 2, Ranges = [[101, 180], [200, 200]] };

        var json = Encoding.UTF8.GetString(TelemetryAckCodec.Encode(ack));

        Assert.Equal($$"""{"schema":"edgeagent.ack/1","bootId":"{{Boot}}","stream":"fallback-case","epoch":2,"ranges":[[101,180],[200,200]]}""", json);
        Assert.True(TelemetryAckCodec.TryDecode(Encoding.UTF8.GetBytes(json), out var back, out var rejection));
        Assert.Null(rejection);
        Assert.Equal((Boot, TelemetryStream.FallbackCase, 2), (back!.BootId, back.StreamValue, back.Epoch));
        Assert.Equal([[101L, 180L], [200L, 200L]], back.Ranges);
        Assert.True(back.Covers(150) && back.Covers(200) && !back.Covers(199));
        Assert.Equal(81, back.SpannedSeqs);
    }

    [Fact]
    public void The_ack_for_a_batch_covers_exactly_what_the_batch_covered_tombstones_included()
    {
        var batch = TelemetryBatchDecoder.Decode(Encoding.UTF8.GetBytes($$$"""
            {"schema":"edgeagent.telemetry.batch/1","deviceId":"d","stream":"telemetry","bootId":"{{{Boot}}}","epoch":1,
             "firstSeq":7,"lastSeq":9,"count":2,"sentAt":"2026-11-22T05:00:01Z","events":[
              {"seq":7,"ts":"2026-11-22T05:00:00Z","kind":"tombstone","data":{"stream":"telemetry"}},
              {"seq":9,"ts":"2026-11-22T05:00:00Z","kind":"data","data":1}]}
            """));

        var ack = TelemetryAckCodec.ForBatch(batch);

        Assert.Equal((Boot, "telemetry", 1), (ack.BootId, ack.Stream, ack.Epoch));
        Assert.Equal([[7L, 9L]], ack.Ranges);
    }

    [Fact]
    public void A_hub_cannot_encode_an_ack_a_device_would_ignore()
    {
        var ack = new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = Boot, Stream = "telemetry", Ranges = [[3, 1]] };

        var ex = Assert.Throws<TelemetryFormatException>(() => TelemetryAckCodec.Encode(ack));
        Assert.Contains("range 0 [3, 1]", ex.Message);
    }

    [Fact]
    public void An_oversized_or_overlong_ack_is_refused_before_parsing()
    {
        Assert.False(TelemetryAckCodec.TryDecode(new byte[TelemetryAckCodec.MaxMessageBytes + 1], out _, out var big));
        Assert.Equal(AckRejectReason.TooLarge, big!.Reason);
        var ranges = string.Join(",", Enumerable.Range(0, TelemetryAckCodec.MaxRanges + 1).Select(i => $"[{(i * 3) + 1},{(i * 3) + 1}]"));
        var json = $$"""{"schema":"edgeagent.ack/1","bootId":"{{Boot}}","stream":"drift","ranges":[{{ranges}}]}""";
        Assert.False(TelemetryAckCodec.TryDecode(Encoding.UTF8.GetBytes(json), out _, out var many));
        Assert.Equal(AckRejectReason.TooManyRanges, many!.Reason);
    }

    [Fact]
    public void Random_bytes_never_throw_from_the_decoder()
    {
        var random = new Random(20261122);
        var valid = TelemetryAckCodec.Encode(new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = Boot, Stream = "update", Ranges = [[1, 9]] });
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var ok = TelemetryAckCodec.TryDecode(bytes, out var ack, out var rejection);
            Assert.True(ok ? ack is not null && rejection is null : ack is null && rejection is not null);
        }
    }

    [Fact]
    public void The_ack_topic_is_the_devices_own_level()
    {
        Assert.Equal("edgeagent/v1/press-17/ack", TelemetryStreams.AckTopic("press-17"));
        Assert.Throws<ArgumentException>(() => TelemetryStreams.AckTopic("a/b"));
    }
}
