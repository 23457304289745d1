using System.Buffers.Binary;

namespace EdgeAgent.Sensors.Gpio;

/// <summary>Direction of an edge.</summary>
public enum GpioEdge
{
    Rising = 1,
    Falling = 2,
}

/// <summary>One decoded edge event.</summary>
/// <param name="TimestampNs">Kernel timestamp (CLOCK_MONOTONIC unless the realtime clock was requested).</param>
/// <param name="Edge">Rising or falling (after active-low inversion by the kernel).</param>
/// <param name="Offset">Line offset on the chip.</param>
/// <param name="Seqno">Sequence number over all lines of the request (starts at 1).</param>
/// <param name="LineSeqno">Sequence number for this line (starts at 1).</param>
public readonly record struct GpioEdgeEvent(ulong TimestampNs, GpioEdge Edge, uint Offset, uint Seqno, uint LineSeqno);

/// <summary>
/// Decodes the 48-byte <c>struct gpio_v2_line_event</c> records read from a line request and detects
/// lost events from jumps in the request-wide sequence number: when its event FIFO overflows, the kernel
/// discards the oldest event, so a jump of k means k − 1 events were lost.
/// </summary>
/// <remarks>Not thread-safe (one per line request). Allocation-free. Records are little-endian (the
/// architectures we run on) and read with explicit offsets, not by casting.</remarks>
public sealed class GpioEventDecoder
{
    public const int RecordSize = 48;
    private uint _lastSeqno;

    /// <summary>Events the sequence numbers show were lost so far.</summary>
    public long LostEvents { get; private set; }

    /// <summary>Records with an event id other than rising/falling (skipped).</summary>
    public long UnknownRecords { get; private set; }

    /// <summary>
    /// Decodes whole records from <paramref name="data"/> into <paramref name="events"/>; returns the number
    /// decoded. <paramref name="consumed"/> is the number of bytes used (whole records only; a trailing
    /// partial record is left for the caller).
    /// </summary>
    public int Decode(ReadOnlySpan<byte> data, Span<GpioEdgeEvent> events, out int consumed)
    {
        int count = 0;
        consumed = 0;
        while (data.Length - consumed >= RecordSize && count < events.Length)
        {
            var r = data.Slice(consumed, RecordSize);
            consumed += RecordSize;
            ulong timestamp = BinaryPrimitives.ReadUInt64LittleEndian(r);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(r[8..]);
            uint offset = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]);
            uint seqno = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
            uint lineSeqno = BinaryPrimitives.ReadUInt32LittleEndian(r[20..]);

            // uint arithmetic so a wrap of the 32-bit counter is not mistaken for a huge loss.
            uint expected = _lastSeqno + 1;
            if (seqno != expected && seqno - expected < int.MaxValue) LostEvents += seqno - expected;
            _lastSeqno = seqno;

            if (id != (uint)GpioEdge.Rising && id != (uint)GpioEdge.Falling)
            {
                UnknownRecords++;
                continue;
            }
            events[count++] = new GpioEdgeEvent(timestamp, (GpioEdge)id, offset, seqno, lineSeqno);
        }
        return count;
    }

    /// <summary>Encodes an event the way the kernel does (for recorded test data and tools).</summary>
    public static void Encode(in GpioEdgeEvent e, Span<byte> destination)
    {
        var r = destination[..RecordSize];
        r.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(r, e.TimestampNs);
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], (uint)e.Edge);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], e.Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], e.Seqno);
        BinaryPrimitives.WriteUInt32LittleEndian(r[20..], e.LineSeqno);
    }
}
