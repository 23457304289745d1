using EdgeAgent.Trust.Json;

namespace EdgeAgent.Trust.Metadata;

/// <summary>One entry of <c>signatures</c>.</summary>
public sealed record TufSignature(string KeyId, string Sig);

/// <summary>
/// A parsed metadata envelope <c>{"signed":…,"signatures":[…]}</c> with the exact bytes it came
/// from (these bytes, not a re-encoding, are what the client persists). Immutable.
/// </summary>
public sealed class SignedMetadata<T> where T : RoleMetadata
{
    private SignedMetadata(byte[] raw, T signed, byte[] canonicalSigned, IReadOnlyList<TufSignature> signatures)
    {
        Raw = raw;
        Signed = signed;
        CanonicalSigned = canonicalSigned;
        Signatures = signatures;
    }

    public byte[] Raw { get; }
    public T Signed { get; }

    /// <summary>The canonical JSON bytes of <c>signed</c>: what signatures cover.</summary>
    public byte[] CanonicalSigned { get; }

    public IReadOnlyList<TufSignature> Signatures { get; }

    /// <summary>Parses <paramref name="raw"/>; refuses floats, duplicate keys, wrong <c>_type</c> and missing fields.</summary>
    /// <exception cref="TufException">Kind <see cref="TufFailureKind.Malformed"/>.</exception>
    public static SignedMetadata<T> Parse(byte[] raw, Func<CjObject, string, T> factory, string what)
    {
        var root = StrictJsonParser.Parse(raw, what) as CjObject ?? throw Fields.Bad(what, "the document must be a JSON object.");
        var signedJson = Fields.Object(root, "signed", what);
        var signatures = new List<TufSignature>();
        foreach (var s in Fields.Array(root, "signatures", what))
        {
            var o = Fields.Object(s, what, "signatures[]");
            signatures.Add(new TufSignature(Fields.String(o, "keyid", what + " signature"), Fields.String(o, "sig", what + " signature")));
        }
        var signed = factory(signedJson, what);
        return new SignedMetadata<T>(raw, signed, signedJson.ToCanonicalBytes(), signatures);
    }
}

/// <summary>Threshold signature verification (TUF §5.3.4, §5.4.2 …).</summary>
public static class SignatureVerifier
{
    /// <summary>
    /// Counts distinct keys (by <see cref="TufKey.ContentKeyId"/>) from <paramref name="role"/> that
    /// produced a valid signature over the canonical <c>signed</c> bytes. A key id listed twice in
    /// <c>signatures</c>, or one key listed under two ids, counts once. Keys with unsupported
    /// schemes or curves never count.
    /// </summary>
    public static int CountValid<T>(SignedMetadata<T> metadata, RoleKeys role, IReadOnlyDictionary<string, TufKey> keys) where T : RoleMetadata
    {
        var counted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var keyId in role.KeyIds)
        {
            if (!keys.TryGetValue(keyId, out var key) || counted.Contains(key.ContentKeyId)) continue;
            foreach (var sig in metadata.Signatures)
            {
                if (sig.KeyId != keyId) continue;
                if (key.Verify(metadata.CanonicalSigned, sig.Sig)) { counted.Add(key.ContentKeyId); break; }
            }
        }
        return counted.Count;
    }

    /// <summary>Throws unless a threshold of <paramref name="role"/> signed <paramref name="metadata"/>.</summary>
    /// <param name="signer">Who must have signed, for the message (e.g. "root version 3").</param>
    public static void RequireThreshold<T>(SignedMetadata<T> metadata, RoleKeys role, IReadOnlyDictionary<string, TufKey> keys, string what, string signer) where T : RoleMetadata
    {
        var valid = CountValid(metadata, role, keys);
        if (valid >= role.Threshold) return;
        var unusable = role.KeyIds.Select(id => keys.TryGetValue(id, out var k) ? (id, k.UnusableReason) : (id, "key not listed"))
            .Where(x => x.Item2 is not null).Select(x => $"{x.id[..Math.Min(12, x.id.Length)]}: {x.Item2}").ToList();
        var detail = unusable.Count == 0 ? "" : $" Unusable keys: {string.Join("; ", unusable)}.";
        throw new TufException(TufFailureKind.Signature,
            $"{what}: only {valid} of the required {role.Threshold} signatures from the keys {signer} trusts are valid.{detail}");
    }
}
