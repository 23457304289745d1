using System.Security.Cryptography.X509Certificates;
using EdgeAgent.Mqtt;

namespace EdgeAgent.Agent.Service;

/// <summary>TLS settings for the broker connection from the PEM files named in the configuration.</summary>
internal static class MqttTlsFiles
{
    /// <param name="caFile">CA certificate(s) that sign the broker's certificate; null trusts the system store.</param>
    /// <param name="certFile">Device certificate for mutual TLS (with <paramref name="keyFile"/>), or null.</param>
    /// <param name="keyFile">The device certificate's private key (PEM).</param>
    /// <param name="host">Name the broker's certificate must carry.</param>
    public static MqttTlsOptions Load(string? caFile, string? certFile, string? keyFile, string host)
    {
        X509Certificate2Collection? cas = null;
        if (caFile is not null)
        {
            cas = [];
            cas.ImportFromPemFile(caFile);
            if (cas.Count == 0) throw new InvalidDataException($"mqtt.caFile: {caFile} holds no PEM certificate");
        }
        X509Certificate2? client = certFile is null ? null
            : X509Certificate2.CreateFromPemFile(certFile, keyFile ?? throw new InvalidDataException("mqtt.keyFile: required with mqtt.certFile"));
        return new MqttTlsOptions { TargetHost = host, TrustedCertificateAuthorities = cas, ClientCertificate = client };
    }
}
