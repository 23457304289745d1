using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeAgent.Hub.Provisioning.Identity;
using EdgeAgent.Hub.Provisioning.Storage;

namespace EdgeAgent.Hub.Provisioning.Pki;

/// <summary>A certificate just issued, with its PEM files' contents. The caller owns nothing disposable.</summary>
public sealed record IssuedCertificate(string SerialNumberHex, string CertificatePem, string PrivateKeyPem, DateTimeOffset NotAfter);

/// <summary>
/// The fleet's private certificate authority, made with .NET (<see cref="CertificateRequest"/>, ECDSA
/// P-256), kept in one directory: <c>ca.crt</c> (0644), <c>ca.key</c> (0600, PKCS#8 PEM) and
/// <c>crl.pem</c> (0644, the revocation list Mosquitto reads through <c>crlfile</c>).
/// Thread safety: not thread safe; <see cref="Fleet.FleetProvisioner"/> serialises all use behind its
/// directory lock. Dispose releases the key.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    /// <summary>id-kp-clientAuth (RFC 5280 §4.2.1.12).</summary>
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");
    /// <summary>id-kp-serverAuth.</summary>
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    private readonly ECDsa _key;
    private readonly TimeProvider _time;

    private CertificateAuthority(string directory, X509Certificate2 certificate, ECDsa key, TimeProvider time)
    {
        Directory = directory;
        Certificate = certificate;
        _key = key;
        _time = time;
    }

    public string Directory { get; }

    public X509Certificate2 Certificate { get; }

    public string CertificatePath => Path.Combine(Directory, "ca.crt");

    public string KeyPath => Path.Combine(Directory, "ca.key");

    public string CrlPath => Path.Combine(Directory, "crl.pem");

    /// <summary>How long a CRL stays valid. OpenSSL (and so Mosquitto) refuses every client once it expires: re-sign with <see cref="Fleet.FleetProvisioner.RenewCrlAsync"/> before then.</summary>
    public static TimeSpan CrlValidity { get; } = TimeSpan.FromDays(90);

    /// <summary>Opens the CA in <paramref name="directory"/>, creating it (and an empty CRL) on first use.</summary>
    /// <exception cref="ProvisioningException">The directory holds a certificate without key, a key that does not match, or unreadable files.</exception>
    public static async Task<CertificateAuthority> OpenOrCreateAsync(string directory, string commonName, TimeProvider? time, CancellationToken cancellationToken)
    {
        time ??= TimeProvider.System;
        ProtectedFile.EnsurePrivateDirectory(directory);
        string certPath = Path.Combine(directory, "ca.crt");
        string keyPath = Path.Combine(directory, "ca.key");
        bool hasCert = File.Exists(certPath), hasKey = File.Exists(keyPath);
        if (hasCert != hasKey)
        {
            throw new ProvisioningException($"The CA directory {directory} has {(hasCert ? "ca.crt but no ca.key" : "ca.key but no ca.crt")}; restore the missing file from backup. A new CA is not created over a half-present one because every device certificate would stop being trusted.");
        }

        if (hasCert)
        {
            try
            {
                var certificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(certPath, cancellationToken).ConfigureAwait(false));
                var key = ECDsa.Create();
                key.ImportFromPem(await File.ReadAllTextAsync(keyPath, cancellationToken).ConfigureAwait(false));
                using (ECDsa? certKey = certificate.GetECDsaPublicKey())
                {
                    if (certKey is null || !certKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
                    {
                        key.Dispose();
                        throw new ProvisioningException($"{keyPath} does not belong to {certPath}; restore the matching pair from backup.");
                    }
                }

                var ca = new CertificateAuthority(directory, certificate, key, time);
                if (!File.Exists(ca.CrlPath))
                {
                    await ca.WriteCrlAsync([], cancellationToken).ConfigureAwait(false);
                }

                return ca;
            }
            catch (CryptographicException e)
            {
                throw new ProvisioningException($"The CA in {directory} cannot be read ({e.Message}); check ca.crt/ca.key are PEM files written by edgehub.", e);
            }
        }

        var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), newKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        // The CRL builder copies this into the CRL's Authority Key Identifier (RFC 5280 §5.2.1).
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        DateTimeOffset now = time.GetUtcNow();
        using X509Certificate2 selfSigned = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        // Kept without its key: signing pairs certificate and key per operation (CopyWithPrivateKey).
        X509Certificate2 created = X509CertificateLoader.LoadCertificate(selfSigned.RawData);
        await ProtectedFile.WriteAsync(keyPath, newKey.ExportPkcs8PrivateKeyPem(), ProtectedFile.Secret, cancellationToken).ConfigureAwait(false);
        await ProtectedFile.WriteAsync(certPath, created.ExportCertificatePem(), ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        var fresh = new CertificateAuthority(directory, created, newKey, time);
        await fresh.WriteCrlAsync([], cancellationToken).ConfigureAwait(false);
        return fresh;
    }

    /// <summary>A client certificate whose CN is <paramref name="identity"/> (Mosquitto's <c>use_identity_as_username</c> makes it the user name).</summary>
    public IssuedCertificate IssueClient(string identity, TimeSpan validity) => Issue($"CN={Escape(identity)}", validity, server: false, []);

    /// <summary>The broker's server certificate, valid for <paramref name="hostNames"/> (DNS names or IP addresses).</summary>
    public IssuedCertificate IssueServer(IReadOnlyList<string> hostNames, TimeSpan validity) =>
        Issue($"CN={Escape(hostNames.Count > 0 ? hostNames[0] : "mqtt-broker")}", validity, server: true, hostNames);

    private IssuedCertificate Issue(string subject, TimeSpan validity, bool server, IReadOnlyList<string> hostNames)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(subject), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([server ? ServerAuth : ClientAuth], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (string host in hostNames)
            {
                if (System.Net.IPAddress.TryParse(host, out System.Net.IPAddress? ip))
                {
                    san.AddIpAddress(ip);
                }
                else
                {
                    san.AddDnsName(host);
                }
            }

            request.CertificateExtensions.Add(san.Build());
        }

        // 16 random bytes, positive (RFC 5280 §4.1.2.2): serials must be unique per CA, and the CRL names them.
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset notAfter = now + validity;
        if (notAfter > Certificate.NotAfter)
        {
            notAfter = Certificate.NotAfter;
        }

        using X509Certificate2 issuer = Certificate.CopyWithPrivateKey(_key);
        using X509Certificate2 issued = request.Create(issuer, now.AddMinutes(-5), notAfter, serial);
        return new IssuedCertificate(Convert.ToHexString(serial), issued.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), notAfter);
    }

    /// <summary>Rewrites <c>crl.pem</c> listing exactly <paramref name="revoked"/> (serial hex → revocation time), with the next CRL number.</summary>
    public async Task WriteCrlAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> revoked, CancellationToken cancellationToken)
    {
        BigInteger number = BigInteger.Zero;
        if (File.Exists(CrlPath))
        {
            try
            {
                string pem = await File.ReadAllTextAsync(CrlPath, cancellationToken).ConfigureAwait(false);
                byte[] der = PemEncoding.TryFind(pem, out PemFields fields) ? Convert.FromBase64String(pem[fields.Base64Data]) : [];
                if (der.Length > 0)
                {
                    CertificateRevocationListBuilder.Load(der, out number);
                }
            }
            catch (CryptographicException)
            {
                // An unreadable CRL is replaced; its entries come from the registry, not from this file.
            }
        }

        var builder = new CertificateRevocationListBuilder();
        foreach ((string serialHex, DateTimeOffset when) in revoked)
        {
            builder.AddEntry(Convert.FromHexString(serialHex), when, X509RevocationReason.CessationOfOperation);
        }

        DateTimeOffset now = _time.GetUtcNow();
        using X509Certificate2 issuer = Certificate.CopyWithPrivateKey(_key);
        byte[] crl = builder.Build(issuer, number + 1, now + CrlValidity, HashAlgorithmName.SHA256, rsaSignaturePadding: null, thisUpdate: now.AddMinutes(-5));
        await ProtectedFile.WriteAsync(CrlPath, PemEncoding.WriteString("X509 CRL", crl) + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }

    // Distinguished names treat ',', '+', '=', quotes etc. specially; ids are validated, but host names and CA names are operator text.
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal)
        .Replace("+", "\\+", StringComparison.Ordinal).Replace("=", "\\=", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
