using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Client;

/// <summary>A target found by a trusted search: the entry and the role that signed it.</summary>
public sealed record TargetInfo(TargetFile File, string Role)
{
    public string Path => File.Path;
    public long Length => File.Length;
    public IReadOnlyDictionary<string, string> Hashes => File.Hashes;

    /// <summary>The signed <c>custom</c> value in canonical JSON, or null (deserialise it with a source-generated context).</summary>
    public byte[]? CustomJson => File.Custom?.ToCanonicalBytes();
}

/// <summary>
/// The TUF 1.0 client (TUF §5, "detailed client workflow"). Typical use by an update manager:
/// <see cref="RefreshAsync"/>, then <see cref="FindTargetAsync"/>, then
/// <see cref="DownloadTargetAsync"/>. Every refusal is a <see cref="TufException"/> and leaves
/// the previously trusted files and state as they were before the refused step.
/// Not thread safe: use one instance per metadata directory, one call at a time.
/// </summary>
public sealed class TufClient
{
    private readonly TufClientOptions _options;
    private readonly ITufFetcher _fetcher;
    private readonly TimeProvider _time;
    private readonly MetadataDirectory _store;
    private TrustedMetadataSet? _trusted;

    public TufClient(TufClientOptions options, ITufFetcher fetcher, TimeProvider? time = null)
    {
        _options = options with { MetadataBaseUri = WithSlash(options.MetadataBaseUri), TargetBaseUri = options.TargetBaseUri is null ? null : WithSlash(options.TargetBaseUri) };
        _fetcher = fetcher;
        _time = time ?? TimeProvider.System;
        _store = new MetadataDirectory(options.MetadataDirectory);
    }

    /// <summary>The trusted metadata after a successful refresh, or null.</summary>
    public TrustedMetadataSet? Trusted => _trusted;

    /// <summary>
    /// Installs <paramref name="trustedRoot"/> (obtained out of band) as the trust anchor of
    /// <paramref name="metadataDirectory"/>: validates it (format, self-signed threshold), removes
    /// the top-level timestamp/snapshot/targets files and writes a fresh state file. No network. This is also the documented
    /// recovery when the state file is lost or damaged.
    /// </summary>
    public static async Task InitializeAsync(string metadataDirectory, byte[] trustedRoot, TimeProvider? time, CancellationToken cancellationToken)
    {
        var root = SignedMetadata<RootMetadata>.Parse(trustedRoot, static (j, w) => new RootMetadata(j, w), "trusted root");
        SignatureVerifier.RequireThreshold(root, root.Signed.Roles["root"], root.Signed.Keys, "trusted root", "the root itself");
        Directory.CreateDirectory(metadataDirectory);
        var store = new MetadataDirectory(metadataDirectory);
        // Forget the previous top-level metadata. Delegated role files are left alone: they are
        // only ever used when they match a pin in a freshly verified snapshot, and deleting every
        // "*.json" would be dangerous if the directory was mistyped.
        foreach (var role in new[] { "timestamp", "snapshot", "targets" })
            store.Delete(role);
        await store.WriteAsync("root", trustedRoot, cancellationToken).ConfigureAwait(false);
        // The floor starts at the current clock: init is an operator action on a device whose clock
        // the operator vouches for.
        await TrustState.Initial(root.Signed.Version, (time ?? TimeProvider.System).GetUtcNow()).SaveAsync(store.Path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the update cycle: root chain, timestamp, snapshot, top-level targets (TUF §5.3–§5.6).
    /// Delegated roles are loaded on demand by <see cref="FindTargetAsync"/>.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        _trusted = null;
        using var exclusive = MetadataLock.Acquire(_store.Path);
        var state = TrustState.Load(_store.Path);
        var rootBytes = _store.TryRead("root", _options.RootMaxLength)
                        ?? throw new TufException(TufFailureKind.State, $"No trusted root.json in '{_store.Path}'. {TrustState.RecoveryHint}");
        var referenceTime = state.EffectiveNow(_time.GetUtcNow());
        if (referenceTime > state.TimeFloor)
        {
            // The floor is the latest clock reading ever seen, persisted before any check: once the
            // device has seen time T, a later clock reset cannot make metadata that expired before
            // T acceptable again (freeze attack with a rolled-back clock).
            state = await SaveStateAsync(state with { TimeFloor = referenceTime }, cancellationToken).ConfigureAwait(false);
        }
        var set = new TrustedMetadataSet(rootBytes, state, referenceTime);
        if (set.Root.Signed.Version > state.RootVersion)
            state = await SaveStateAsync(state with { RootVersion = set.Root.Signed.Version }, cancellationToken).ConfigureAwait(false);

        // §5.3: root chain, one version at a time, each persisted before the next is fetched.
        var rotated = false;
        for (var i = 0; i < _options.MaxRootRotations; i++)
        {
            var next = set.Root.Signed.Version + 1;
            var bytes = await FetchMetadataAsync($"{next}.root.json", _options.RootMaxLength, allowNotFound: true, cancellationToken).ConfigureAwait(false);
            if (bytes is null) break;
            rotated |= set.UpdateRoot(bytes);
            await _store.WriteAsync("root", bytes, cancellationToken).ConfigureAwait(false);
            state = await SaveStateAsync(state with { RootVersion = next }, cancellationToken).ConfigureAwait(false);
        }
        if (rotated)
        {
            // §5.3.11: new timestamp/snapshot keys end a fast-forward attack: forget what the old
            // keys vouched for, files and version floors alike.
            _store.Delete("timestamp");
            _store.Delete("snapshot");
            state = await SaveStateAsync(state with { TimestampVersion = 0, SnapshotVersion = 0, RoleVersions = new Dictionary<string, long>() }, cancellationToken).ConfigureAwait(false);
            set = new TrustedMetadataSet(_store.TryRead("root", _options.RootMaxLength)!, state, set.ReferenceTime);
        }
        set.CheckFinalRoot();

        // §5.4 timestamp.
        if (TryReadLocal("timestamp", _options.TimestampMaxLength) is { } localTs) set.TryLoadLocalTimestamp(localTs);
        var tsBytes = (await FetchMetadataAsync("timestamp.json", _options.TimestampMaxLength, allowNotFound: false, cancellationToken).ConfigureAwait(false))!;
        if (set.UpdateTimestamp(tsBytes))
        {
            await _store.WriteAsync("timestamp", tsBytes, cancellationToken).ConfigureAwait(false);
            var ts = set.Timestamp!.Signed;
            state = await SaveStateAsync(state with
            {
                TimestampVersion = ts.Version,
                SnapshotVersion = Math.Max(state.SnapshotVersion, ts.SnapshotMeta.Version),
            }, cancellationToken).ConfigureAwait(false);
        }

        // §5.5 snapshot: reuse the local copy when it is exactly what timestamp pins.
        var snapshotCurrent = false;
        if (TryReadLocal("snapshot", _options.SnapshotMaxLength) is { } localSnap)
        {
            try { set.UpdateSnapshot(localSnap, fromLocalCache: true); snapshotCurrent = true; }
            catch (TufException) { /* stale or invalid local copy: fetch a new one below */ }
        }
        if (!snapshotCurrent)
        {
            var pin = set.Timestamp!.Signed.SnapshotMeta;
            var name = set.Root.Signed.ConsistentSnapshot ? $"{pin.Version}.snapshot.json" : "snapshot.json";
            var bytes = (await FetchMetadataAsync(name, pin.Length ?? _options.SnapshotMaxLength, allowNotFound: false, cancellationToken).ConfigureAwait(false))!;
            set.UpdateSnapshot(bytes, fromLocalCache: false);
            await _store.WriteAsync("snapshot", bytes, cancellationToken).ConfigureAwait(false);
            state = await SaveStateAsync(state with
            {
                SnapshotVersion = Math.Max(state.SnapshotVersion, set.Snapshot!.Signed.Version),
                RoleVersions = set.Snapshot.Signed.Meta.ToDictionary(m => m.Key, m => m.Value.Version, StringComparer.Ordinal),
            }, cancellationToken).ConfigureAwait(false);
        }

        // §5.6 top-level targets.
        await LoadTargetsAsync(set, "targets", "root", cancellationToken).ConfigureAwait(false);

        _trusted = set;
    }

    /// <summary>
    /// Searches the delegation graph for <paramref name="targetPath"/> (TUF §5.6.7: pre-order
    /// depth-first, delegations in listed order, a terminating delegation ends the search, at most
    /// <see cref="TufClientOptions.MaxDelegations"/> roles visited). Refreshes first if needed.
    /// Returns null when no trusted role lists the path.
    /// </summary>
    public async Task<TargetInfo?> FindTargetAsync(string targetPath, CancellationToken cancellationToken)
    {
        if (_trusted is null) await RefreshAsync(cancellationToken).ConfigureAwait(false);
        var set = _trusted!;
        using var exclusive = MetadataLock.Acquire(_store.Path); // delegated roles get persisted
        var stack = new Stack<(string Role, string Delegator)>();
        stack.Push(("targets", "root"));
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var budget = _options.MaxDelegations;
        while (stack.Count > 0 && budget > 0)
        {
            var (role, delegator) = stack.Pop();
            if (!visited.Add(role)) continue; // cycles in the delegation graph
            budget--;
            var targets = await LoadTargetsAsync(set, role, delegator, cancellationToken).ConfigureAwait(false);
            if (targets.Signed.Targets.TryGetValue(targetPath, out var found)) return new TargetInfo(found, role);
            if (targets.Signed.Delegations is not { } delegations) continue;
            var children = new List<(string, string)>();
            foreach (var child in delegations.Roles)
            {
                if (!child.IsTrustedFor(targetPath)) continue;
                children.Add((child.Name, role));
                if (child.Terminating)
                {
                    stack.Clear(); // backtracking is not allowed past a terminating delegation
                    break;
                }
            }
            for (var i = children.Count - 1; i >= 0; i--) stack.Push(children[i]);
        }
        return null;
    }

    /// <summary>Like <see cref="FindTargetAsync"/> but throws <see cref="TufFailureKind.TargetNotFound"/>.</summary>
    public async Task<TargetInfo> GetTargetAsync(string targetPath, CancellationToken cancellationToken) =>
        await FindTargetAsync(targetPath, cancellationToken).ConfigureAwait(false)
        ?? throw new TufException(TufFailureKind.TargetNotFound, $"No trusted targets role lists '{targetPath}'.");

    /// <summary>
    /// Downloads <paramref name="target"/> to <paramref name="destinationPath"/>: at most
    /// <see cref="TargetFile.Length"/> bytes are accepted, every known hash must match, and only
    /// then is the file renamed into place (fsync'ed, directory fsync'ed). On failure the
    /// destination is untouched.
    /// </summary>
    /// <param name="resume">Keep the partial file (<c>.NAME.part</c> beside the destination) when the
    /// transfer breaks, and continue it with an HTTP Range request next time. Content that fails
    /// verification is always discarded. Without it, partial files are removed.</param>
    public async Task DownloadTargetAsync(TargetInfo target, string destinationPath, CancellationToken cancellationToken, bool resume = false)
    {
        var baseUri = _options.TargetBaseUri ?? throw new InvalidOperationException("TargetBaseUri is not configured.");
        if (_trusted is null) await RefreshAsync(cancellationToken).ConfigureAwait(false);
        var uri = new Uri(baseUri, TargetUrlPath(target.File, _trusted!.Root.Signed.ConsistentSnapshot));
        var what = $"target '{target.Path}'";
        var full = Path.GetFullPath(destinationPath);
        var partial = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".part");
        if (!resume) TryDelete(partial);
        try
        {
            try
            {
                await DownloadToPartialAsync(target, uri, partial, what, cancellationToken).ConfigureAwait(false);
            }
            catch (TufDownloadException e) when (resume && e.Message.Contains("ignored the Range request", StringComparison.Ordinal))
            {
                TryDelete(partial); // the server cannot resume: start over once
                await DownloadToPartialAsync(target, uri, partial, what, cancellationToken).ConfigureAwait(false);
            }
            File.Move(partial, full, overwrite: true);
            DurableFile.SyncDirectory(Path.GetDirectoryName(full)!);
        }
        catch (TufDownloadException e) when (e.Kind == TufFailureKind.TooLarge)
        {
            TryDelete(partial);
            throw new TufException(TufFailureKind.TooLarge, $"{what} is longer than the {target.Length} bytes the trusted metadata pins; download refused. ({e.Message})", e);
        }
        catch (TufDownloadException) when (resume)
        {
            throw; // transport failure: keep the verified-so-far prefix for the next attempt
        }
        catch
        {
            TryDelete(partial);
            throw;
        }
    }

    private async Task DownloadToPartialAsync(TargetInfo target, Uri uri, string partial, string what, CancellationToken cancellationToken)
    {
        using var hashes = HashCheck.CreateIncremental(target.Hashes, what);
        long existing = 0;
        if (File.Exists(partial))
        {
            existing = new FileInfo(partial).Length;
            if (existing > target.Length) { TryDelete(partial); existing = 0; }
            else
            {
                // The prefix is re-hashed, not trusted: the final hash covers every byte.
                await using var old = new FileStream(partial, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous);
                var buffer = new byte[64 * 1024];
                int n;
                while ((n = await old.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0) hashes.Append(buffer.AsSpan(0, n));
            }
        }
        long written;
        await using (var file = new FileStream(partial, existing > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
        await using (var hashing = new HashingWriteStream(file, hashes))
        {
            try
            {
                written = existing == target.Length
                    ? existing
                    : await _fetcher.FetchAsync(uri, hashing, Limits(target.Length, _options.TargetDeadline), existing, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await hashing.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
        }
        if (written != target.Length)
            throw new TufException(TufFailureKind.LengthOrHash, $"{what} is {written} bytes but the trusted metadata pins {target.Length} bytes.");
        hashes.Verify();
    }

    /// <summary>
    /// The URL path of a target (TUF §5.7.3): with consistent snapshots the file name is prefixed
    /// by its hash (the first listed, as python-tuf does). Each segment is percent-encoded, and
    /// "." / ".." segments are encoded too, so a path like <c>../x</c> cannot climb out of the
    /// target base URL.
    /// </summary>
    public static string TargetUrlPath(TargetFile target, bool consistentSnapshot)
    {
        var segments = target.Path.Split('/');
        if (consistentSnapshot) segments[^1] = target.Hashes.First().Value + "." + segments[^1];
        return string.Join('/', segments.Select(EscapeSegment));
    }

    internal static string EscapeSegment(string segment) => segment switch
    {
        "." => "%2E",
        ".." => "%2E%2E",
        _ => Uri.EscapeDataString(segment),
    };

    private async Task<SignedMetadata<TargetsMetadata>> LoadTargetsAsync(TrustedMetadataSet set, string role, string delegator, CancellationToken cancellationToken)
    {
        if (set.Targets.TryGetValue(role, out var loaded)) return loaded;
        if (TryReadLocal(role, _options.TargetsMaxLength) is { } local)
        {
            try { return set.UpdateTargets(local, role, delegator); }
            catch (TufException) { /* stale or invalid local copy: fetch */ }
        }
        var pin = set.Snapshot!.Signed.Meta.GetValueOrDefault(role + ".json")
                  ?? throw new TufException(TufFailureKind.Version, $"targets role '{role}': snapshot.json does not list '{role}.json', so it cannot be trusted.");
        var name = set.Root.Signed.ConsistentSnapshot ? $"{pin.Version}.{EscapeSegment(role)}.json" : $"{EscapeSegment(role)}.json";
        var bytes = (await FetchMetadataAsync(name, pin.Length ?? _options.TargetsMaxLength, allowNotFound: false, cancellationToken).ConfigureAwait(false))!;
        var accepted = set.UpdateTargets(bytes, role, delegator);
        await _store.WriteAsync(role, bytes, cancellationToken).ConfigureAwait(false);
        return accepted;
    }

    private byte[]? TryReadLocal(string role, long cap)
    {
        try { return _store.TryRead(role, cap); }
        catch (TufException) { return null; } // oversize local file: not trusted, refetch
    }

    private async Task<byte[]?> FetchMetadataAsync(string fileName, long maxLength, bool allowNotFound, CancellationToken cancellationToken)
    {
        var uri = new Uri(_options.MetadataBaseUri, fileName);
        using var buffer = new MemoryStream();
        try
        {
            await _fetcher.FetchAsync(uri, buffer, Limits(maxLength, _options.MetadataDeadline), 0, cancellationToken).ConfigureAwait(false);
        }
        catch (TufDownloadException e) when (allowNotFound && e.IsNotFound)
        {
            return null;
        }
        return buffer.ToArray();
    }

    private FetchLimits Limits(long maxLength, TimeSpan deadline) =>
        new(maxLength, deadline, _options.MinimumBytesPerSecond, _options.SlowStartGracePeriod);

    private async Task<TrustState> SaveStateAsync(TrustState state, CancellationToken cancellationToken)
    {
        await state.SaveAsync(_store.Path, cancellationToken).ConfigureAwait(false);
        return state;
    }

    private static Uri WithSlash(Uri u) => u.AbsoluteUri.EndsWith('/') ? u : new Uri(u.AbsoluteUri + "/");

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Write-through stream that feeds every byte to a hash set. Not thread safe.</summary>
internal sealed class HashingWriteStream(Stream inner, HashCheck.IncrementalHashSet hashes) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        hashes.Append(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        hashes.Append(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
