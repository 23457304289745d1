using System.Security.Cryptography.X509Certificates;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

public sealed class TransportTests
{
    private static MqttClientOptions TlsOptions(MosquittoBroker broker, X509Certificate2? clientCertificate = null, X509Certificate2? trustedCa = null, string host = "127.0.0.1") =>
        TestClient.Options(broker) with
        {
            Endpoint = MqttEndpoint.Tcp(host, broker.TlsPort),
            AutoReconnect = false,
            Tls = new MqttTlsOptions
            {
                TargetHost = host == "127.0.0.1" ? "localhost" : host,
                TrustedCertificateAuthorities = [trustedCa ?? broker.Certificates!.CaCertificate],
                ClientCertificate = clientCertificate,
            },
        };

    [Fact]
    public async Task Tls_with_a_custom_ca_connects_and_round_trips()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Tls = true });
        var (client, sink) = await TestClient.ConnectAsync(TlsOptions(broker));
        await using var _c = client;
        await client.SubscribeAsync("tls/t");
        await client.PublishAsync(TestClient.Message("tls/t", "secret"));
        Assert.Equal("secret", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Server_certificate_from_an_unknown_ca_is_rejected_with_a_clear_error()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Tls = true });
        string otherDir = Path.Combine(broker.Directory, "other");
        Directory.CreateDirectory(otherDir);
        using var otherPki = TestCertificates.Create(otherDir);
        await using var client = new MqttClient(TlsOptions(broker, trustedCa: otherPki.CaCertificate));
        var ex = await Assert.ThrowsAsync<MqttTlsException>(() => client.ConnectAsync());
        Assert.Contains("does not chain to the configured CA", ex.Message);
    }

    [Fact]
    public async Task Server_certificate_for_another_host_name_is_rejected()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Tls = true });
        var options = TlsOptions(broker) with { Tls = TlsOptions(broker).Tls! with { TargetHost = "broker.example.com" } };
        await using var client = new MqttClient(options);
        var ex = await Assert.ThrowsAsync<MqttTlsException>(() => client.ConnectAsync());
        Assert.Contains("does not match", ex.Message);
    }

    [Fact]
    public async Task Mutual_tls_is_enforced_and_the_certificate_identity_drives_the_acl()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions
        {
            RequireClientCertificate = true,
            AllowAnonymous = false,
            Acl = "pattern readwrite edgeagent/v1/%u/#\n",
        });

        // No client certificate: the handshake fails.
        await using (var anonymous = new MqttClient(TlsOptions(broker)))
        {
            var ex = await Assert.ThrowsAsync<MqttTlsException>(() => anonymous.ConnectAsync());
            Assert.Contains("client certificate", ex.Message);
            Assert.Equal(MqttConnectionState.Disconnected, anonymous.State);
        }

        // A certificate from another CA: refused too.
        using (X509Certificate2 rogue = TestCertificates.CreateSelfSignedClientCertificate("dev-7"))
        await using (var impostor = new MqttClient(TlsOptions(broker, rogue)))
        {
            await Assert.ThrowsAsync<MqttTlsException>(() => impostor.ConnectAsync());
        }

        // Signed by the CA with CN=dev-7: connects, and may use only edgeagent/v1/dev-7/#.
        X509Certificate2 certificate = broker.Certificates!.CreateClientCertificate("dev-7", out _, out _);
        var (device, sink) = await TestClient.ConnectAsync(TlsOptions(broker, certificate));
        await using var _d = device;
        await device.SubscribeAsync("edgeagent/v1/dev-7/cmd");
        await device.PublishAsync(TestClient.Message("edgeagent/v1/dev-7/cmd", "mine"));
        Assert.Equal("mine", (await sink.NextAsync()).Text());
        var denied = await Assert.ThrowsAsync<MqttPublishException>(() => device.PublishAsync(TestClient.Message("edgeagent/v1/dev-8/cmd", "theirs")));
        Assert.Equal(MqttReasonCode.NotAuthorized, denied.ReasonCode);
    }

    [Fact]
    public async Task Unix_domain_socket_connects_to_a_local_broker()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { UnixSocket = true });
        var options = TestClient.Options(broker) with { Endpoint = MqttEndpoint.Unix(broker.UnixSocketPath!) };
        var (client, sink) = await TestClient.ConnectAsync(options);
        await using var _c = client;
        await client.SubscribeAsync("uds/t");
        await client.PublishAsync(TestClient.Message("uds/t", "local"));
        Assert.Equal("local", (await sink.NextAsync()).Text());
    }
}
