using System.Security.Cryptography;
using EdgeAgent.Trust.Json;

namespace EdgeAgent.Trust.Metadata;

/// <summary>
/// A public key as TUF metadata lists it: <c>{"keytype","scheme","keyval":{"public":PEM}}</c> plus
/// any extra fields (kept, they are part of the key id). Supported schemes:
/// <c>ecdsa-sha2-nistp256</c> (keytype <c>ecdsa</c> or <c>ecdsa-sha2-nistp256</c>, PEM SPKI,
/// DER signatures) and <c>rsassa-pss-sha256</c> (keytype <c>rsa</c>, PEM SPKI, salt = hash length).
/// A key with another scheme, another curve or an unreadable PEM is kept (so the metadata still
/// round-trips) but every signature check with it fails: it can never count toward a threshold.
/// Instances are immutable and thread safe.
/// </summary>
public sealed class TufKey
{
    private const string P256Oid = "1.2.840.10045.3.1.7";
    private readonly Lazy<AsymmetricAlgorithm?> _algorithm;
    private readonly Lock _gate = new(); // the platform key object is not documented as thread safe

    private TufKey(CjObject json, string keyType, string scheme, string? publicPem)
    {
        Json = json;
        KeyType = keyType;
        Scheme = scheme;
        PublicPem = publicPem;
        ContentKeyId = Convert.ToHexStringLower(SHA256.HashData(json.ToCanonicalBytes()));
        _algorithm = new Lazy<AsymmetricAlgorithm?>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The key exactly as listed (unknown fields included).</summary>
    public CjObject Json { get; }
    public string KeyType { get; }
    public string Scheme { get; }
    public string? PublicPem { get; }

    /// <summary>
    /// SHA-256 (hex) of the canonical key object: the TUF key id. The client counts thresholds by
    /// this value, not by the key id the metadata claims, so one key listed under two ids cannot
    /// sign twice.
    /// </summary>
    public string ContentKeyId { get; }

    /// <summary>Why this key can never verify anything, or null when it is usable.</summary>
    public string? UnusableReason => _algorithm.Value is null ? _unusable : null;
    private string? _unusable;

    public static TufKey FromJson(CjObject json, string what)
    {
        var keyType = Fields.String(json, "keytype", what);
        var scheme = Fields.String(json, "scheme", what);
        var keyval = Fields.Object(json, "keyval", what);
        var pem = keyval["public"] is CjString s ? s.Value : null;
        return new TufKey(json, keyType, scheme, pem);
    }

    /// <summary>Builds the JSON for a public key (repository tooling).</summary>
    public static TufKey Create(string keyType, string scheme, string publicPem) =>
        FromJson(Cj.Obj(("keytype", Cj.Str(keyType)), ("scheme", Cj.Str(scheme)),
            ("keyval", Cj.Obj(("public", Cj.Str(publicPem))))), "key");

    /// <summary>
    /// Verifies <paramref name="signatureHex"/> over <paramref name="data"/>. Never throws for bad
    /// input: an unsupported key, bad hex or bad signature all return false.
    /// </summary>
    public bool Verify(ReadOnlySpan<byte> data, string signatureHex)
    {
        var alg = _algorithm.Value;
        if (alg is null || signatureHex.Length == 0 || signatureHex.Length % 2 != 0) return false;
        byte[] sig;
        try { sig = Convert.FromHexString(signatureHex); }
        catch (FormatException) { return false; }
        try
        {
            lock (_gate)
            {
                return alg switch
                {
                    ECDsa ec => ec.VerifyData(data, sig, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
                    RSA rsa => rsa.VerifyData(data, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
                    _ => false,
                };
            }
        }
        catch (CryptographicException) { return false; }
    }

    private AsymmetricAlgorithm? Load()
    {
        if (PublicPem is null) { _unusable = "keyval.public is missing"; return null; }
        try
        {
            switch (KeyType, Scheme)
            {
                case ("ecdsa" or "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"):
                    var ec = ECDsa.Create();
                    ec.ImportFromPem(PublicPem);
                    // A P-384 or secp256k1 key must not pass as nistp256 (TUF §4.2 names the curve).
                    var curve = ec.ExportParameters(false).Curve;
                    if (curve.Oid?.Value != P256Oid && curve.Oid?.FriendlyName is not ("nistP256" or "ECDSA_P256"))
                    {
                        _unusable = $"key is on curve {curve.Oid?.FriendlyName ?? curve.Oid?.Value ?? "unknown"}, not NIST P-256";
                        ec.Dispose();
                        return null;
                    }
                    return ec;
                case ("rsa", "rsassa-pss-sha256"):
                    var rsa = RSA.Create();
                    rsa.ImportFromPem(PublicPem);
                    if (rsa.KeySize < 2048) { _unusable = $"RSA key has {rsa.KeySize} bits, at least 2048 are required"; rsa.Dispose(); return null; }
                    return rsa;
                default:
                    _unusable = $"unsupported keytype/scheme {KeyType}/{Scheme}";
                    return null;
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            _unusable = $"public key PEM cannot be read: {e.Message}";
            return null;
        }
    }
}
