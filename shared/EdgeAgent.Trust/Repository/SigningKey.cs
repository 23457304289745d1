using System.Security.Cryptography;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Trust.Repository;

/// <summary>
/// A private signing key for repository tooling: <c>ecdsa-sha2-nistp256</c> (default; DER
/// signatures) or <c>rsassa-pss-sha256</c>. The public half is exposed as the <see cref="TufKey"/>
/// that goes into metadata. Thread safe for signing; owns the underlying key (dispose it).
/// </summary>
public sealed class SigningKey : IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    private SigningKey(AsymmetricAlgorithm key, TufKey publicKey)
    {
        _key = key;
        PublicKey = publicKey;
    }

    public TufKey PublicKey { get; }

    /// <summary>The key id: SHA-256 of the canonical public key object.</summary>
    public string KeyId => PublicKey.ContentKeyId;

    public static SigningKey CreateEcdsaP256()
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new SigningKey(ec, TufKey.Create("ecdsa", "ecdsa-sha2-nistp256", ec.ExportSubjectPublicKeyInfoPem()));
    }

    public static SigningKey CreateRsaPss(int bits = 3072)
    {
        var rsa = RSA.Create(bits);
        return new SigningKey(rsa, TufKey.Create("rsa", "rsassa-pss-sha256", rsa.ExportSubjectPublicKeyInfoPem()));
    }

    /// <summary>Loads a PKCS#8 PEM private key written by <see cref="ExportPrivateKeyPem"/>.</summary>
    public static SigningKey FromPrivateKeyPem(string pem)
    {
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            if (ec.KeySize != 256) throw new TufException(TufFailureKind.Repository, $"Only P-256 ECDSA keys are supported, this key has {ec.KeySize} bits.");
            return new SigningKey(ec, TufKey.Create("ecdsa", "ecdsa-sha2-nistp256", ec.ExportSubjectPublicKeyInfoPem()));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            ec.Dispose();
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new SigningKey(rsa, TufKey.Create("rsa", "rsassa-pss-sha256", rsa.ExportSubjectPublicKeyInfoPem()));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            rsa.Dispose();
            throw new TufException(TufFailureKind.Repository, $"The private key PEM is neither a P-256 ECDSA nor an RSA key: {e.Message}", e);
        }
    }

    public string ExportPrivateKeyPem() => _key switch
    {
        ECDsa ec => ec.ExportPkcs8PrivateKeyPem(),
        RSA rsa => rsa.ExportPkcs8PrivateKeyPem(),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Signs <paramref name="data"/> (canonical <c>signed</c> bytes); returns lowercase hex.</summary>
    public string Sign(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(_key switch
    {
        ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
        RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
        _ => throw new InvalidOperationException(),
    });

    public void Dispose() => _key.Dispose();
}
