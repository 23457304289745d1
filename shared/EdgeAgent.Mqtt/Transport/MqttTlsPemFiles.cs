using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeAgent.Mqtt;

/// <summary>
/// TLS settings from the PEM files a provisioned device or hub instance holds (<c>ca.crt</c>, its
/// certificate and key), with messages that name the file and the setting to fix.
/// </summary>
public static class MqttTlsPemFiles
{
    /// <param name="caFile">CA certificate(s) that sign the broker's certificate; null trusts the system store.</param>
    /// <param name="certFile">Client certificate for mutual TLS (with <paramref name="keyFile"/>), or null.</param>
    /// <param name="keyFile">The client certificate's private key (PEM).</param>
    /// <param name="host">Name the broker's certificate must carry.</param>
    /// <param name="settingPrefix">How the caller names these settings in messages: <c>{prefix}ca{suffix}</c>, <c>{prefix}cert{suffix}</c>,
    /// <c>{prefix}key{suffix}</c> (the agent's <c>mqtt.caFile</c>, the hub's <c>--mqtt-ca</c>).</param>
    /// <param name="settingSuffix">See <paramref name="settingPrefix"/>.</param>
    /// <exception cref="InvalidDataException">A file is missing, unreadable or holds no usable PEM.</exception>
    public static MqttTlsOptions Load(string? caFile, string? certFile, string? keyFile, string host, string settingPrefix = "mqtt.", string settingSuffix = "File")
    {
        string ca = settingPrefix + "ca" + settingSuffix, cert = settingPrefix + "cert" + settingSuffix, key = settingPrefix + "key" + settingSuffix;
        X509Certificate2Collection? cas = null;
        if (caFile is not null)
        {
            cas = [];
            try
            {
                cas.ImportFromPemFile(caFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new InvalidDataException($"{ca}: {caFile}: {e.Message}", e);
            }
            if (cas.Count == 0) throw new InvalidDataException($"{ca}: {caFile} holds no PEM certificate");
        }
        X509Certificate2? client = null;
        if (certFile is not null)
        {
            if (keyFile is null) throw new InvalidDataException($"{key}: required with {cert}");
            try
            {
                client = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new InvalidDataException($"{cert}: {certFile} / {key}: {keyFile}: {e.Message}", e);
            }
        }
        return new MqttTlsOptions { TargetHost = host, TrustedCertificateAuthorities = cas, ClientCertificate = client };
    }
}
