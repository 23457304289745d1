using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeAgent.TestSupport.Mosquitto;

/// <summary>
/// A throw-away PKI made with .NET: a CA, a server certificate for 127.0.0.1/localhost, and
/// client certificates whose CN is the MQTT user name (for <c>use_identity_as_username</c>).
/// PEM files are written next to each other so Mosquitto and the mosquitto_* tools can read them.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey;
    private readonly List<IDisposable> _owned = [];

    private TestCertificates(string directory)
    {
        Directory = directory;
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=EdgeAgent Test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        CaCertificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CaCertificatePath = Path.Combine(directory, "ca.crt");
        File.WriteAllText(CaCertificatePath, CaCertificate.ExportCertificatePem());
        (ServerCertificatePath, ServerKeyPath, _) = Issue("server", "CN=localhost", server: true);
    }

    public string Directory { get; }

    public X509Certificate2 CaCertificate { get; }

    public string CaCertificatePath { get; }

    public string ServerCertificatePath { get; }

    public string ServerKeyPath { get; }

    public static TestCertificates Create(string directory) => new(directory);

    /// <summary>A client certificate (with private key) whose CN is <paramref name="commonName"/>, signed by the CA.</summary>
    public X509Certificate2 CreateClientCertificate(string commonName, out string certificatePath, out string keyPath)
    {
        (certificatePath, keyPath, X509Certificate2 certificate) = Issue($"client-{commonName}", $"CN={commonName}", server: false);
        return certificate;
    }

    /// <summary>A client certificate from a different, untrusted CA (for negative tests).</summary>
    public static X509Certificate2 CreateSelfSignedClientCertificate(string commonName)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    private (string Cert, string Key, X509Certificate2 Certificate) Issue(string name, string subject, bool server)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using X509Certificate2 issued = request.Create(CaCertificate, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), serial);
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        string certPath = Path.Combine(Directory, name + ".crt");
        string keyPath = Path.Combine(Directory, name + ".key");
        File.WriteAllText(certPath, issued.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        // Round-trip through PKCS#12 so SslStream gets a certificate with a usable private key.
        X509Certificate2 portable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        _owned.Add(portable);
        return (certPath, keyPath, portable);
    }

    public void Dispose()
    {
        foreach (IDisposable d in _owned)
        {
            d.Dispose();
        }

        CaCertificate.Dispose();
        _caKey.Dispose();
    }
}
