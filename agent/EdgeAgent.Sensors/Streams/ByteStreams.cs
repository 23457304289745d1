using EdgeAgent.Sensors.Native;

namespace EdgeAgent.Sensors.Streams;

/// <summary>Where a line stream reads its bytes from (regular file, FIFO, tty, stdin).</summary>
internal interface IByteStream : IDisposable
{
    /// <summary>Reads at least one byte, or 0 at end of stream.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>A regular file read through <see cref="FileStream"/>.</summary>
/// <remarks>Reads synchronously: a regular file read returns in microseconds (page cache or one disk
/// read), while an async read costs a thread-pool hop per chunk, which on a loaded 2-core device made
/// replay slower than a naive synchronous parser (docs/bench/sensors.md).</remarks>
internal sealed class FileByteStream(FileStream stream) : IByteStream
{
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<int>(stream.Read(buffer.Span));
    }

    public void Dispose() => stream.Dispose();
}

/// <summary>A FIFO, tty or pipe read with poll + read (see <see cref="FileDescriptorReader"/>).</summary>
internal sealed class DescriptorByteStream(FileDescriptorReader reader) : IByteStream
{
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        new(reader.ReadAsync(buffer, cancellationToken));

    public void Dispose() => reader.Dispose();
}
