using EdgeAgent.Sensors.Gpio;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Gpio;

public sealed class GpioEventDecoderTests
{
    internal static byte[] Record(params GpioEdgeEvent[] events)
    {
        var bytes = new byte[events.Length * GpioEventDecoder.RecordSize];
        for (int i = 0; i < events.Length; i++) GpioEventDecoder.Encode(events[i], bytes.AsSpan(i * GpioEventDecoder.RecordSize));
        return bytes;
    }

    [Fact]
    public void Records_decode_field_by_field()
    {
        // A record as the kernel lays it out, written by hand: ts=0x0102030405060708, falling, offset 17, seqno 1, line_seqno 1.
        byte[] raw =
        [
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 2, 0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        var decoder = new GpioEventDecoder();
        var events = new GpioEdgeEvent[4];
        Assert.Equal(1, decoder.Decode(raw, events, out int consumed));
        Assert.Equal(48, consumed);
        Assert.Equal(new GpioEdgeEvent(0x0102030405060708, GpioEdge.Falling, 17, 1, 1), events[0]);
        Assert.Equal(raw, Record(events[0]));
        Assert.Equal(0, decoder.LostEvents);
    }

    [Fact]
    public void Sequence_number_jumps_are_counted_as_lost_events()
    {
        var decoder = new GpioEventDecoder();
        var events = new GpioEdgeEvent[8];
        var data = Record(
            new(100, GpioEdge.Rising, 4, 3, 3),   // seqno starts at 3: two events lost before the first read
            new(200, GpioEdge.Falling, 4, 4, 4),
            new(300, GpioEdge.Rising, 4, 9, 9));  // 5..8 lost
        Assert.Equal(3, decoder.Decode(data, events, out _));
        Assert.Equal(6, decoder.LostEvents);
    }

    [Fact]
    public void A_partial_trailing_record_is_left_for_the_next_read_and_unknown_ids_are_skipped()
    {
        var decoder = new GpioEventDecoder();
        var events = new GpioEdgeEvent[8];
        var data = Record(new(1, GpioEdge.Rising, 1, 1, 1), new(2, (GpioEdge)7, 1, 2, 2), new(3, GpioEdge.Falling, 1, 3, 1));
        Assert.Equal(1, decoder.Decode(data.AsSpan(0, 48 + 47), events, out int consumed));
        Assert.Equal(48, consumed);
        Assert.Equal(1, decoder.Decode(data.AsSpan(consumed), events, out consumed));
        Assert.Equal(96, consumed);
        Assert.Equal(GpioEdge.Falling, events[0].Edge);
        Assert.Equal(1, decoder.UnknownRecords);
        Assert.Equal(0, decoder.LostEvents);
    }

    [Fact]
    public void Sequence_number_wrap_is_not_a_loss()
    {
        var decoder = new GpioEventDecoder();
        var events = new GpioEdgeEvent[8];
        // The 32-bit request seqno wraps from uint.MaxValue to 0. (A first jump of more than 2^31 is
        // implausible for a FIFO of at most a few thousand events and is not counted.)
        decoder.Decode(Record(
            new GpioEdgeEvent(1, GpioEdge.Rising, 0, uint.MaxValue, 1),
            new GpioEdgeEvent(2, GpioEdge.Falling, 0, 0, 2),
            new GpioEdgeEvent(3, GpioEdge.Rising, 0, 1, 3),
            new GpioEdgeEvent(4, GpioEdge.Falling, 0, 3, 4)), events, out _);
        Assert.Equal(1, decoder.LostEvents);
    }
}
