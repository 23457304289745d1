using EdgeAgent.Mqtt;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Pipeline.Tests.Support;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Pipeline.Tests.Cloud;

/// <summary>A device that starts offline: the tier exists before MQTT ever connected and attaches later.</summary>
public sealed class DetachedTierTests
{
    private static CloudInferenceRequest Request(long window) => PipelineHarness.CloudRequest("press-19", window);

    [Fact]
    public async Task A_detached_tier_falls_back_offline_without_sending_and_answers_once_attached()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var responder = await CloudResponder.StartAsync(broker.Port, "press-19");
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "dev-19" });
        var resilience = CloudResilience.Create(new CloudCircuitOptions());
        await using var tier = CloudTier.CreateDetached(device, resilience,
            new CloudRequestBudget(new CloudBudgetOptions { RequestsPerSecond = 1000, Burst = 1000, DailyBudget = null }),
            new CloudTierOptions { DeviceId = "press-19", Timeout = TimeSpan.FromSeconds(10) });

        var offline = await tier.AskAsync(Request(1), CancellationToken.None);
        Assert.Equal(FallbackReason.Offline, offline.Reason);
        Assert.False(tier.IsAttached);
        Assert.Equal(0, tier.Attempts);
        await Assert.ThrowsAsync<MqttClientNotConnectedException>(() => tier.AttachAsync());   // not connected yet: the caller retries later

        await device.ConnectAsync();
        await tier.AttachAsync();
        await tier.AttachAsync();   // idempotent
        Assert.True(tier.IsAttached);
        var answered = await tier.AskAsync(Request(2), CancellationToken.None);
        Assert.Equal("run", answered.Response?.Label);
        Assert.Equal(1, responder.Received);
    }
}
