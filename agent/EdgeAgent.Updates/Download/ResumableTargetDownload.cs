using EdgeAgent.Trust;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Updates.Download;

/// <summary>
/// Downloads one TUF target into a <c>.part</c> file that survives restarts, resuming with an
/// HTTP Range request (through <see cref="ITufFetcher"/>'s <c>resumeFrom</c>; the fetcher checks
/// for 206). Every <see cref="ChunkBytes"/> the file is fsync'ed and the caller persists the
/// checkpoint; a resume first truncates the file to the last checkpoint (bytes after it may be
/// garbage after a power cut), re-hashes the kept prefix, and appends. So an interruption costs at
/// most one chunk of re-download. Trust stays with TUF: the final length and every hash the
/// verified targets metadata pins are checked before <see cref="DownloadAsync"/> returns.
/// Not thread safe (one download per file).
/// </summary>
public sealed class ResumableTargetDownload(ITufFetcher fetcher, FetchLimits limits, long chunkBytes = 1024 * 1024)
{
    public long ChunkBytes { get; } = chunkBytes;

    /// <summary>Bytes requested from the network by the last call (for benchmarks and events).</summary>
    public long LastFetchedBytes { get; private set; }

    /// <summary>Where the last call resumed (0 = from scratch).</summary>
    public long LastResumedFrom { get; private set; }

    /// <param name="checkpoint">Bytes known durable (from the persisted state).</param>
    /// <param name="onCheckpoint">Persists a new durable length; awaited before more data is written.</param>
    /// <exception cref="TufException">Length or hash mismatch (the .part file is deleted: restart from zero), download failure (file kept for resume).</exception>
    public async Task DownloadAsync(Uri uri, string partPath, long length, IReadOnlyDictionary<string, string> hashes, long checkpoint,
        Func<long, CancellationToken, Task> onCheckpoint, CancellationToken cancellationToken)
    {
        var what = $"bundle '{uri}'";
        using var hash = HashCheck.CreateIncremental(hashes, what);
        long start;
        await using (var file = new FileStream(partPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
        {
            start = Math.Min(Math.Min(file.Length, checkpoint), length);
            file.SetLength(start);
            // Re-hash what is kept: the hash state is not persisted, the bytes are.
            var buffer = new byte[64 * 1024];
            long left = start;
            while (left > 0)
            {
                var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0) throw new IOException($"'{partPath}' shrank while being read.");
                hash.Append(buffer.AsSpan(0, n));
                left -= n;
            }
            LastResumedFrom = start;
            LastFetchedBytes = 0;
            if (start < length)
            {
                file.Position = start;
                var sink = new CheckpointStream(file, hash, ChunkBytes, start, onCheckpoint, this);
                long total;
                try
                {
                    total = await fetcher.FetchAsync(uri, sink, limits with { MaxLength = length }, start, cancellationToken).ConfigureAwait(false);
                }
                catch (TufDownloadException e) when (e.Kind != TufFailureKind.TooLarge)
                {
                    // A broken connection: keep everything that arrived, so the resume costs nothing.
                    await sink.CheckpointAsync(CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
                await sink.CheckpointAsync(cancellationToken).ConfigureAwait(false);
                if (total != length)
                    Fail(partPath, $"{what} ended at {total} bytes but the trusted metadata pins {length} bytes.");
            }
        }
        try { hash.Verify(); }
        catch (TufException e)
        {
            Fail(partPath, e.Message);
        }
    }

    private static void Fail(string partPath, string message)
    {
        File.Delete(partPath);
        throw new TufException(TufFailureKind.LengthOrHash, message + " The partial download was discarded.");
    }

    /// <summary>Write-through stream: file + hash, fsync and checkpoint every chunk.</summary>
    private sealed class CheckpointStream(FileStream file, HashCheck.IncrementalHashSet hash, long chunk, long position,
        Func<long, CancellationToken, Task> onCheckpoint, ResumableTargetDownload owner) : Stream
    {
        private long _position = position;
        private long _lastCheckpoint = position;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous writes only");

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.Append(buffer.Span);
            await file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            _position += buffer.Length;
            owner.LastFetchedBytes += buffer.Length;
            if (_position - _lastCheckpoint >= chunk) await CheckpointAsync(cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public async Task CheckpointAsync(CancellationToken cancellationToken)
        {
            if (_position == _lastCheckpoint) return;
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
            _lastCheckpoint = _position;
            await onCheckpoint(_position, cancellationToken).ConfigureAwait(false);
        }
    }
}
