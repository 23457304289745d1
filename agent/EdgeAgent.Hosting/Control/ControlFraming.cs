using System.Buffers.Binary;

namespace EdgeAgent.Hosting.Control;

/// <summary>
/// Wire format of the control socket: each message is a 4-byte big-endian length followed by that many
/// bytes of UTF-8 JSON. A length prefix (rather than newline-delimited JSON) lets the reader refuse an
/// oversize message before reading a byte of it.
/// </summary>
internal static class ControlFraming
{
    public const int HeaderLength = 4;

    /// <summary>Reads one frame's length. Returns -1 on a clean end of stream before any header byte.</summary>
    public static async ValueTask<long> ReadLengthAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[HeaderLength];
        int read = 0;
        while (read < HeaderLength)
        {
            int n = await stream.ReadAsync(header.AsMemory(read), ct).ConfigureAwait(false);
            if (n == 0)
                return read == 0 ? -1 : throw new EndOfStreamException($"the connection closed inside a frame header ({read} of {HeaderLength} bytes)");
            read += n;
        }
        return BinaryPrimitives.ReadUInt32BigEndian(header);
    }

    public static async ValueTask<byte[]> ReadPayloadAsync(Stream stream, int length, CancellationToken ct)
    {
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, ct).ConfigureAwait(false);
        return payload;
    }

    public static async ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        var frame = new byte[HeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.Span.CopyTo(frame.AsSpan(HeaderLength));
        await stream.WriteAsync(frame, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }
}
