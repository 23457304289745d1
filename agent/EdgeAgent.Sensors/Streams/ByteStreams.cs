using EdgeAgent.Sensors.Native;

namespace EdgeAgent.Sensors.Streams;

/// <summary>Where a line stream reads its bytes from (regular file, FIFO, tty, stdin).</summary>
internal interface IByteStream : IDisposable
{
    /// <summary>Reads at least one byte, or 0 at end of stream.</summary>
    Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>A regular file read through <see cref="FileStream"/> (seekable, never blocks on poll).</summary>
internal sealed class FileByteStream(FileStream stream) : IByteStream
{
    public Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        stream.ReadAsync(buffer, cancellationToken).AsTask();

    public void Dispose() => stream.Dispose();
}

/// <summary>A FIFO, tty or pipe read with poll + read (see <see cref="FileDescriptorReader"/>).</summary>
internal sealed class DescriptorByteStream(FileDescriptorReader reader) : IByteStream
{
    public Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        reader.ReadAsync(buffer, cancellationToken);

    public void Dispose() => reader.Dispose();
}
