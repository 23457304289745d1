using EdgeAgent.Hub.Provisioning.Fleet;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Hub.Provisioning.Tests.Broker;

public sealed class HubScaleOutTests
{
    [Fact]
    public async Task Two_hub_instances_share_the_device_stream_and_both_stay_connected()
    {
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        DeviceBundle device = await broker.Provisioner.AddDeviceAsync("dev-1");
        HubCredentials second = await broker.Provisioner.AddHubInstanceAsync("2");
        Assert.Equal("edgehub_hub.2", second.Identity);
        Assert.Equal(second, await broker.Provisioner.AddHubInstanceAsync("2"));
        await broker.StartAsync();

        await using TestClient hub1 = await broker.ConnectHubAsync("ignored-1");
        await using TestClient hub2 = await broker.CreateClient(broker.CertificatePort, ProvisionedBroker.LoadCertificate(second.CertificatePath, second.KeyPath), "ignored-2", true, 0).ConnectAsync();
        await hub1.Client.SubscribeAsync("$share/hub/edgeagent/v1/+/telemetry");
        await hub2.Client.SubscribeAsync("$share/hub/edgeagent/v1/+/telemetry");
        await using TestClient d = await broker.ConnectDeviceAsync(device);
        const int messages = 20;
        for (int i = 0; i < messages; i++)
        {
            await d.PublishAsync("edgeagent/v1/dev-1/telemetry", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // Each message goes to exactly one instance; poll both until all 20 arrived (bounded, not timed).
        var seen = new List<string>();
        DateTime giveUp = DateTime.UtcNow.AddSeconds(20);
        while (seen.Count < messages && DateTime.UtcNow < giveUp)
        {
            bool any = false;
            foreach (TestClient hub in new[] { hub1, hub2 })
            {
                while (hub.TryReceive(out MqttApplicationMessage? m))
                {
                    seen.Add(System.Text.Encoding.UTF8.GetString(m!.Payload.Span));
                    any = true;
                }
            }

            if (!any)
            {
                await Task.Delay(10);
            }
        }

        Assert.Equal(messages, seen.Distinct().Count());
        // Distinct client ids (forced to the certificate names): neither instance took the other's session over.
        Assert.Equal(MqttConnectionState.Connected, hub1.Client.State);
        Assert.Equal(MqttConnectionState.Connected, hub2.Client.State);
        Assert.True((await hub2.PublishAsync("edgeagent/v1/dev-1/cmd", "from instance 2")).ReasonCode < MqttReasonCode.UnspecifiedError);
    }

    [Fact]
    public async Task Two_connections_with_the_same_hub_certificate_take_each_other_over()
    {
        // Why AddHubInstanceAsync exists: client ids are forced to the certificate name.
        await using ProvisionedBroker broker = await ProvisionedBroker.CreateAsync();
        await broker.StartAsync();
        await using TestClient first = await broker.ConnectHubAsync("hub-a");
        await using TestClient second = await broker.ConnectHubAsync("hub-b");
        DateTime giveUp = DateTime.UtcNow.AddSeconds(20);
        while (first.Client.State == MqttConnectionState.Connected && DateTime.UtcNow < giveUp)
        {
            await Task.Delay(10);
        }

        Assert.NotEqual(MqttConnectionState.Connected, first.Client.State);
        Assert.Equal(MqttConnectionState.Connected, second.Client.State);
    }
}
