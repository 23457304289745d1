namespace EdgeAgent.Sensors.Native;

/// <summary>
/// Reads a non-seekable file descriptor (FIFO, tty, pipe, stdin, GPIO line request) with
/// <c>poll</c> + <c>read</c>, so cancellation is noticed within <see cref="PollIntervalMs"/> even when
/// no data arrives (a blocking <c>read</c> could not be interrupted).
/// </summary>
/// <remarks>Not thread-safe: one reader at a time. The descriptor is closed on dispose only when owned.
/// Each <see cref="ReadAsync"/> runs one blocking poll/read on the thread pool; it allocates per chunk
/// read (a few KB of lines), not per sample.</remarks>
internal sealed unsafe class FileDescriptorReader : IDisposable
{
    public const int PollIntervalMs = 100;
    private readonly bool _ownsFd;
    private readonly string _description;
    private int _fd;

    public FileDescriptorReader(int fd, bool ownsFd, string description)
    {
        _fd = fd;
        _ownsFd = ownsFd;
        _description = description;
    }

    public int Fd => _fd;

    /// <summary>Reads at least one byte, or returns 0 at end of stream (writer closed, hang-up).</summary>
    public Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        Task.Run(() => ReadBlocking(buffer.Span, cancellationToken), cancellationToken);

    /// <summary>Blocking variant for callers already on a dedicated thread.</summary>
    public int ReadBlocking(Span<byte> buffer, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pfd = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(&pfd, 1, PollIntervalMs);
            if (ready < 0)
            {
                var (errno, text) = Libc.LastError();
                if (errno == Libc.EINTR) continue;
                throw new IOException($"poll on {_description} failed: {text} (errno {errno})");
            }
            if (ready == 0) continue;
            if ((pfd.Revents & Libc.POLLNVAL) != 0)
                throw new IOException($"{_description} is no longer open (POLLNVAL)");
            if ((pfd.Revents & (Libc.POLLIN | Libc.POLLHUP | Libc.POLLERR)) == 0) continue;

            nint n;
            fixed (byte* p = buffer) n = Libc.Read(_fd, p, (nuint)buffer.Length);
            if (n >= 0) return (int)n;
            var (err, message) = Libc.LastError();
            if (err == Libc.EINTR || err == Libc.EAGAIN) continue;
            // A tty whose other side hung up (pty master closed, USB serial unplugged) reports EIO.
            if (err == 5 && (pfd.Revents & Libc.POLLHUP) != 0) return 0;
            throw new IOException($"read from {_description} failed: {message} (errno {err})");
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0 && _ownsFd) Libc.Close(fd);
    }
}
