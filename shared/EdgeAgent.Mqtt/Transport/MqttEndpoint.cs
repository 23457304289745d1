using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace EdgeAgent.Mqtt;

/// <summary>Where the broker is: a TCP host/port or a Unix domain socket path. Immutable.</summary>
public sealed record MqttEndpoint
{
    private MqttEndpoint(string? host, int port, string? unixSocketPath)
    {
        Host = host;
        Port = port;
        UnixSocketPath = unixSocketPath;
    }

    public string? Host { get; }

    public int Port { get; }

    public string? UnixSocketPath { get; }

    /// <summary>TCP endpoint; 1883 is the usual plain port, 8883 the TLS port.</summary>
    public static MqttEndpoint Tcp(string host, int port)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return new MqttEndpoint(host, port, null);
    }

    /// <summary>Unix domain socket (Mosquitto: <c>listener 0 /run/mosquitto/mqtt.sock</c>).</summary>
    public static MqttEndpoint Unix(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new MqttEndpoint(null, 0, path);
    }

    public override string ToString() => UnixSocketPath is not null ? $"unix:{UnixSocketPath}" : $"{Host}:{Port}";
}

/// <summary>
/// TLS settings. Server certificates are validated against the system store, or — when
/// <see cref="TrustedCertificateAuthorities"/> is set — against those CAs only (custom root trust,
/// e.g. the fleet's private CA). Host name checking always applies.
/// </summary>
public sealed record MqttTlsOptions
{
    /// <summary>Name expected in the server certificate; defaults to the endpoint host.</summary>
    public string? TargetHost { get; init; }

    /// <summary>When set, the only roots trusted for the server certificate.</summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; init; }

    /// <summary>Client certificate (with private key) for mutual TLS.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>Certificate revocation checking; offline by default because devices may not reach CRL/OCSP endpoints.</summary>
    public X509RevocationMode RevocationMode { get; init; } = X509RevocationMode.NoCheck;
}

/// <summary>TLS handshake or server certificate validation failed; the message says which check failed.</summary>
public sealed class MqttTlsException(string message, Exception? inner = null) : Exception(message, inner);
