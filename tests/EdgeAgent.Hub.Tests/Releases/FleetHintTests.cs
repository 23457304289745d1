using System.Text.Json;
using System.Threading.Channels;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Mqtt;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>The retained <c>edgeagent/v1/fleet/hint</c> on a real Mosquitto.</summary>
public sealed class FleetHintTests : IAsyncLifetime
{
    private MosquittoBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await MosquittoBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Every_publication_leaves_a_retained_hint_with_the_newest_timestamp_version()
    {
        await using var hub = await ReleaseHub.StartAsync(tweak: o => o with { MqttHost = "127.0.0.1", MqttPort = _broker.Port, CloudInference = false });
        var hints = hub.Service<FleetHintPublisher>();
        await Fixtures.Eventually.ValueAsync(() => Task.FromResult(hints.LastSent), v => v == 1, "hint for the initial timestamp");

        await hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        await hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default);
        await hub.Assignments.PublishAsync([ReleaseEndToEndTests.Assign("dev-1", "1.0.0")], default);
        await Fixtures.Eventually.ValueAsync(() => Task.FromResult(hints.LastSent), v => v == 3, "hint after two publications");

        // A device connecting later gets the retained hint at once.
        var received = Channel.CreateUnbounded<MqttApplicationMessage>();
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-1" });
        device.MessageHandler = (m, _) => { received.Writer.TryWrite(m); return ValueTask.CompletedTask; };
        await device.ConnectAsync();
        await device.SubscribeAsync(FleetHintPublisher.Topic);
        var hint = await received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(hint.Retain);
        using var json = JsonDocument.Parse(hint.Payload);
        Assert.Equal(3, json.RootElement.GetProperty("timestamp").GetInt64());
        Assert.True(json.RootElement.TryGetProperty("at", out _));
        Assert.Equal(3, (await hub.Store.GetTufMetadataAsync("timestamp.json"))!.Version);
    }
}
