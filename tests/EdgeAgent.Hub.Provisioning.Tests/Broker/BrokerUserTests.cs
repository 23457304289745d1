using EdgeAgent.Hub.Provisioning.Broker;
using EdgeAgent.Hub.Provisioning.Fleet;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Hub.Provisioning.Tests.Broker;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BrokerUserTests
{
    /// <summary>
    /// The production setup: Mosquitto started as root drops to 'mosquitto' and must still read its key,
    /// password file and CRL, at start and at every reload. The operator runs <c>chgrp -R mosquitto</c> on
    /// the broker directory once; files rewritten later inherit the group (set-group-id directory).
    /// When the tests do not run as root the broker cannot drop privileges and runs as the current user.
    /// </summary>
    [Fact]
    public async Task Broker_that_drops_to_the_mosquitto_user_reads_files_rewritten_after_a_single_chgrp()
    {
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync(dropToMosquittoUser: true);
        BrokerFiles files = broker.Provisioner.Broker;
        Assert.Equal(UnixFileMode.SetGroup, File.GetUnixFileMode(files.Directory) & UnixFileMode.SetGroup);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(files.ServerKeyPath));
        if (Environment.UserName == "root")
        {
            ChildProcess.Result chgrp = await ChildProcess.RunAsync("chgrp", ["-R", "mosquitto", files.Directory]);
            Assert.True(chgrp.ExitCode == 0, chgrp.StandardError);
        }

        // Written after the chgrp: the password file and the CRL are new files now.
        DeviceBundle meter = await broker.Provisioner.AddDeviceAsync("meter-1", DeviceAuthentication.Password);
        DeviceBundle pump = await broker.Provisioner.AddDeviceAsync("pump-1");
        DeviceBundle other = await broker.Provisioner.AddDeviceAsync("pump-2");
        await broker.StartAsync();
        await using (TestClient m = await broker.ConnectDeviceAsync(meter))
        {
            Assert.True((await m.PublishAsync("edgeagent/v1/meter-1/status", "online")).ReasonCode < MqttReasonCode.UnspecifiedError);
        }

        var pumpCertificate = ProvisionedBroker.LoadCertificate(pump.CertificatePath!, pump.KeyPath!);
        await (await broker.ConnectDeviceAsync(pump)).DisposeAsync();
        await broker.Provisioner.RevokeDeviceAsync("pump-1");
        await broker.ReloadAsync();
        await Assert.ThrowsAnyAsync<Exception>(broker.CreateClient(broker.CertificatePort, pumpCertificate, "pump-1", true, 0).ConnectAsync);
        await using TestClient stillThere = await broker.ConnectDeviceAsync(other);
        await using TestClient meterAgain = await broker.ConnectDeviceAsync(meter);
        Assert.DoesNotContain("Permission denied", broker.Log, StringComparison.Ordinal);
    }
}
