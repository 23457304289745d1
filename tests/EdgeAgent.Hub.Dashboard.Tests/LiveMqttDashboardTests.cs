using System.Text;
using System.Text.Json;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests;

/// <summary>
/// End to end through a real broker: a device publishes its retained status and prediction telemetry to
/// Mosquitto, the hub consumes them over MQTT, and an open fleet page shows the device come online, its
/// predictions, and go offline — without a reload.
/// </summary>
[Collection(DashboardBrowserCollection.Name)]
public sealed class LiveMqttDashboardTests(DashboardBrowserFixture fixture) : BrowserTest(fixture)
{
    private MosquittoBroker _broker = null!;
    private RunningHub _hub = null!;

    public override async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = await RunningHub.StartAsync("127.0.0.1", _broker.Port, clientId: "edgehub-dashboard");
        await _hub.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private static MqttApplicationMessage Status(string id, bool online) => new()
    {
        Topic = $"edgeagent/v1/{id}/status",
        Retain = true,
        Payload = Encoding.UTF8.GetBytes($$"""{"online":{{(online ? "true" : "false")}},"agentVersion":"2.0.0-live","activeModel":"vib-mlp@1.0.0","health":"ok"}"""),
    };

    [Fact]
    public async Task A_device_reporting_over_mqtt_appears_on_the_open_fleet_page_and_goes_offline()
    {
        await Page.NavigateAsync(_hub.BaseAddress.ToString());
        await Page.WaitForAsync("document.getElementById('login-form') !== null", "the sign-in form");
        await SignInAsync(_hub.ReadOnlyToken);
        await Page.WaitForAsync("document.getElementById('main').innerText.includes('no devices registered yet')", "the empty fleet");

        const string id = "mqtt-dev-1";
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + id });
        await device.ConnectAsync();
        await device.PublishAsync(Status(id, online: true));
        var now = DateTimeOffset.UtcNow;
        var events = Enumerable.Range(1, 25).Select(i => new WireEvent(i, now.AddSeconds(-60 + i), 0, TelemetryEventKind.Data,
            JsonSerializer.SerializeToUtf8Bytes(new PipelineResult
            {
                Model = "vib-mlp@1.0.0", Window = i, WindowEnd = now, Label = "normal", LocalLabel = "normal", Confidence = 0.9f, LocalConfidence = 0.9f,
                DecidedBy = i % 5 == 0 ? DecidedBy.Fallback : DecidedBy.Local, InferenceUs = 180, LatencyUs = 500,
            }, PipelineJsonContext.Default.PipelineResult), true)).ToList();
        var batch = new TelemetryBatchEncoder().Encode(id, TelemetryStream.Telemetry, new string('a', 32), events, now);
        var ack = await device.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(id, TelemetryStream.Telemetry), Payload = batch.Payload, ContentType = batch.ContentType });
        Assert.True(ack.ReasonCode < MqttReasonCode.UnspecifiedError, ack.ReasonCode.ToString());

        // The page polls; the device shows up online with its 25 events, and the last hour's predictions count them.
        await Page.WaitForAsync($"[...document.querySelectorAll('#main tbody tr')].some(r => r.innerText.includes('{id}') && r.innerText.includes('online') && r.innerText.includes('2.0.0-live') && r.innerText.includes('25'))", "the device online with its events");
        await Page.WaitForAsync("document.getElementById('main').innerText.includes('PREDICTIONS (1 H)\\n25')", "25 predictions in the last hour");
        Assert.Contains("20.0 %", await Page.TextAsync("#main")); // 5 of 25 fell back

        await device.PublishAsync(Status(id, online: false));
        await Page.WaitForAsync($"[...document.querySelectorAll('#main tbody tr')].some(r => r.innerText.includes('{id}') && r.innerText.includes('offline'))", "the device offline");
        AssertNoConsoleErrors();
    }
}
