using System.Security.Cryptography;

namespace EdgeAgent.Trust.Metadata;

/// <summary>
/// Hash verification for pinned files. Every listed algorithm this client knows must match;
/// unknown algorithms are ignored, but at least one known algorithm is required, so a file pinned
/// only by, say, "sha3-256" is refused instead of being accepted unverified.
/// </summary>
public static class HashCheck
{
    /// <summary>Algorithms this client computes.</summary>
    public static readonly string[] Known = ["sha256", "sha384", "sha512"];

    public static void Verify(ReadOnlySpan<byte> data, IReadOnlyDictionary<string, string> hashes, string what)
    {
        var checkedAny = false;
        foreach (var (alg, expected) in hashes)
        {
            var actual = alg switch
            {
                "sha256" => SHA256.HashData(data),
                "sha384" => SHA384.HashData(data),
                "sha512" => SHA512.HashData(data),
                _ => null,
            };
            if (actual is null) continue;
            checkedAny = true;
            if (!string.Equals(Convert.ToHexStringLower(actual), expected, StringComparison.OrdinalIgnoreCase))
                throw new TufException(TufFailureKind.LengthOrHash, $"{what} does not match its pinned {alg} hash (expected {expected}, got {Convert.ToHexStringLower(actual)}).");
        }
        if (!checkedAny) throw NoKnownAlgorithm(hashes, what);
    }

    internal static TufException NoKnownAlgorithm(IReadOnlyDictionary<string, string> hashes, string what) =>
        new(TufFailureKind.LengthOrHash, $"{what} is pinned only by hash algorithms this client does not support ({string.Join(", ", hashes.Keys)}); supported: {string.Join(", ", Known)}.");

    /// <summary>Incremental form for streamed downloads.</summary>
    public static IncrementalHashSet CreateIncremental(IReadOnlyDictionary<string, string> hashes, string what) => new(hashes, what);

    /// <summary>Hashes a stream as it is written; <see cref="Verify"/> when complete. Not thread safe.</summary>
    public sealed class IncrementalHashSet : IDisposable
    {
        private readonly List<(string Alg, string Expected, IncrementalHash Hash)> _hashes = [];
        private readonly string _what;

        internal IncrementalHashSet(IReadOnlyDictionary<string, string> hashes, string what)
        {
            _what = what;
            foreach (var (alg, expected) in hashes)
            {
                HashAlgorithmName? name = alg switch
                {
                    "sha256" => HashAlgorithmName.SHA256,
                    "sha384" => HashAlgorithmName.SHA384,
                    "sha512" => HashAlgorithmName.SHA512,
                    _ => null,
                };
                if (name is { } n) _hashes.Add((alg, expected, IncrementalHash.CreateHash(n)));
            }
            if (_hashes.Count == 0) throw NoKnownAlgorithm(hashes, what);
        }

        public void Append(ReadOnlySpan<byte> data)
        {
            foreach (var h in _hashes) h.Hash.AppendData(data);
        }

        public void Verify()
        {
            foreach (var (alg, expected, hash) in _hashes)
            {
                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                    throw new TufException(TufFailureKind.LengthOrHash, $"{_what} does not match its pinned {alg} hash (expected {expected}, got {actual}).");
            }
        }

        public void Dispose()
        {
            foreach (var h in _hashes) h.Hash.Dispose();
        }
    }
}
