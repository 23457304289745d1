using System.Collections.Concurrent;

namespace EdgeAgent.Hub.Releases;

/// <summary>An immutable file held for serving, with the SHA-256 its strong ETag is made of.</summary>
public sealed record CachedArtifact(byte[] Content, string Sha256);

/// <summary>
/// Immutable repository files (versioned metadata, hash-named targets) kept in memory so serving does not
/// read the database per request. Safe without invalidation: a name never changes content (consistent
/// snapshots). Bounded by bytes; when full, arbitrary entries are dropped (any entry can be re-read from
/// the store). Files over half the capacity are not cached. Thread safe.
/// </summary>
public sealed class ArtifactCache(long capacityBytes)
{
    private readonly ConcurrentDictionary<string, CachedArtifact> _items = new(StringComparer.Ordinal);
    private long _bytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    public bool TryGet(string key, out CachedArtifact artifact) => _items.TryGetValue(key, out artifact!);

    public void Add(string key, CachedArtifact artifact)
    {
        long size = artifact.Content.Length;
        if (size * 2 > capacityBytes) return;
        while (Interlocked.Read(ref _bytes) + size > capacityBytes && !_items.IsEmpty)
            foreach (var victim in _items.Keys.Take(8))
                if (_items.TryRemove(victim, out var removed)) Interlocked.Add(ref _bytes, -removed.Content.Length);
        if (_items.TryAdd(key, artifact)) Interlocked.Add(ref _bytes, size);
    }
}
