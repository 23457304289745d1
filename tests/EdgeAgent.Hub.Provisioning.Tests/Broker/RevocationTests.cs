using EdgeAgent.Hub.Provisioning.Fleet;
using EdgeAgent.Hub.Provisioning.Identity;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Hub.Provisioning.Tests.Broker;

public sealed class RevocationTests
{
    [Fact]
    public async Task Revoked_certificate_is_refused_after_crl_update_and_reload_while_others_still_connect()
    {
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        DeviceBundle keep = await broker.Provisioner.AddDeviceAsync("keep-1");
        DeviceBundle gone = await broker.Provisioner.AddDeviceAsync("gone-1");
        await broker.StartAsync();
        // Copies: revocation deletes the device's bundle from the hub's disk.
        var goneCertificate = ProvisionedBroker.LoadCertificate(gone.CertificatePath!, gone.KeyPath!);
        await (await broker.ConnectDeviceAsync(gone)).DisposeAsync();

        DeviceRecord record = await broker.Provisioner.RevokeDeviceAsync("gone-1");
        Assert.True(record.IsRevoked);
        Assert.False(Directory.Exists(gone.Directory));
        await broker.ReloadAsync();

        TestClient refused = broker.CreateClient(broker.CertificatePort, goneCertificate, "gone-1", true, 0);
        await Assert.ThrowsAnyAsync<Exception>(refused.ConnectAsync);
        Assert.NotEqual(MqttConnectionState.Connected, refused.Client.State);
        // The same certificate connected before the revocation, so the handshake failure is the CRL.
        string afterReload = broker.Log[broker.Log.LastIndexOf("Reloading config", StringComparison.Ordinal)..];
        Assert.Contains("certificate verify failed", afterReload, StringComparison.Ordinal);

        await using TestClient still = await broker.ConnectDeviceAsync(keep);
        Assert.True((await still.PublishAsync("edgeagent/v1/keep-1/status", "online")).ReasonCode < MqttReasonCode.UnspecifiedError);
        await using TestClient hub = await broker.ConnectHubAsync();

        // Re-signing the CRL (before it expires) keeps the revocation.
        await broker.Provisioner.RenewCrlAsync();
        await broker.ReloadAsync();
        await Assert.ThrowsAnyAsync<Exception>(broker.CreateClient(broker.CertificatePort, goneCertificate, "gone-1", true, 0).ConnectAsync);
        await using TestClient stillAfterRenewal = await broker.ConnectDeviceAsync(keep);
    }

    [Fact]
    public async Task Reload_of_a_missing_broker_says_what_to_check()
    {
        var noProcess = Assert.Throws<ProvisioningException>(() => EdgeAgent.Hub.Provisioning.Broker.BrokerReload.Signal(99_999_999));
        Assert.Contains("no process 99999999", noProcess.Message, StringComparison.Ordinal);

        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        var noPidFile = await Assert.ThrowsAsync<ProvisioningException>(() => broker.Provisioner.ReloadBrokerAsync());
        Assert.Contains("pid file", noPidFile.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoked_password_device_is_refused_after_reload_and_can_be_provisioned_again()
    {
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        DeviceBundle first = await broker.Provisioner.AddDeviceAsync("pw-1", DeviceAuthentication.Password);
        await broker.StartAsync();
        await (await broker.ConnectDeviceAsync(first)).DisposeAsync();

        await broker.Provisioner.RevokeDeviceAsync("pw-1");
        await broker.ReloadAsync();
        var e = await Assert.ThrowsAsync<MqttConnectException>(() => broker.ConnectDeviceAsync(first));
        Assert.Equal(MqttReasonCode.NotAuthorized, e.ReasonCode);

        DeviceBundle second = await broker.Provisioner.AddDeviceAsync("pw-1", DeviceAuthentication.Password);
        await broker.ReloadAsync();
        await using TestClient again = await broker.ConnectDeviceAsync(second);
        Assert.NotEqual(first.Password, second.Password);
        await Assert.ThrowsAsync<MqttConnectException>(() => broker.ConnectDeviceAsync(first));
    }

    [Fact]
    public async Task Revoking_an_unknown_or_already_revoked_device_is_refused_with_a_clear_message()
    {
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        var unknown = await Assert.ThrowsAsync<ProvisioningException>(() => broker.Provisioner.RevokeDeviceAsync("nobody"));
        Assert.Contains("No device 'nobody'", unknown.Message, StringComparison.Ordinal);
        await broker.Provisioner.AddDeviceAsync("once");
        await broker.Provisioner.RevokeDeviceAsync("once");
        var twice = await Assert.ThrowsAsync<ProvisioningException>(() => broker.Provisioner.RevokeDeviceAsync("once"));
        Assert.Contains("already revoked", twice.Message, StringComparison.Ordinal);
    }
}
