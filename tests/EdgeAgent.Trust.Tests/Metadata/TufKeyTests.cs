using System.Security.Cryptography;
using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Repository;

namespace EdgeAgent.Trust.Tests.Metadata;

public sealed class TufKeyTests
{
    private static readonly byte[] Data = "canonical signed bytes"u8.ToArray();

    [Fact]
    public void Ecdsa_p256_signature_in_der_verifies_and_a_modified_message_does_not()
    {
        using var key = SigningKey.CreateEcdsaP256();
        var sig = key.Sign(Data);
        Assert.True(key.PublicKey.Verify(Data, sig));
        Assert.False(key.PublicKey.Verify("other bytes"u8, sig));
        Assert.Null(key.PublicKey.UnusableReason);
    }

    [Fact]
    public void Ieee_p1363_signatures_are_not_accepted_for_the_der_scheme()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = TufKey.Create("ecdsa", "ecdsa-sha2-nistp256", ec.ExportSubjectPublicKeyInfoPem());
        var p1363 = Convert.ToHexStringLower(ec.SignData(Data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.False(key.Verify(Data, p1363));
    }

    [Theory]
    [InlineData("ed25519", "ed25519")]
    [InlineData("ecdsa", "ecdsa-sha2-nistp384")]
    [InlineData("rsa", "rsassa-pss-sha512")]
    [InlineData("rsa", "rsa-pkcs1v15-sha256")]
    public void Unknown_schemes_never_verify(string keyType, string scheme)
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = TufKey.Create(keyType, scheme, ec.ExportSubjectPublicKeyInfoPem());
        var sig = Convert.ToHexStringLower(ec.SignData(Data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        Assert.False(key.Verify(Data, sig));
        Assert.Contains("unsupported", key.UnusableReason);
    }

    [Fact]
    public void P384_key_declared_as_nistp256_never_verifies()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var key = TufKey.Create("ecdsa", "ecdsa-sha2-nistp256", ec.ExportSubjectPublicKeyInfoPem());
        var sig = Convert.ToHexStringLower(ec.SignData(Data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        Assert.False(key.Verify(Data, sig));
        Assert.Contains("not NIST P-256", key.UnusableReason);
    }

    [Fact]
    public void Short_rsa_keys_never_verify()
    {
        using var rsa = RSA.Create(1024);
        var key = TufKey.Create("rsa", "rsassa-pss-sha256", rsa.ExportSubjectPublicKeyInfoPem());
        var sig = Convert.ToHexStringLower(rsa.SignData(Data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
        Assert.False(key.Verify(Data, sig));
        Assert.Contains("2048", key.UnusableReason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("zz")]
    [InlineData("abc")]
    [InlineData("3006020101020101")]
    public void Garbage_signatures_are_simply_invalid(string sig)
    {
        using var key = SigningKey.CreateEcdsaP256();
        Assert.False(key.PublicKey.Verify(Data, sig));
    }

    [Fact]
    public void Rsa_pss_signature_verifies()
    {
        using var key = SigningKey.CreateRsaPss(2048);
        Assert.True(key.PublicKey.Verify(Data, key.Sign(Data)));
        Assert.Equal("rsassa-pss-sha256", key.PublicKey.Scheme);
    }
}
