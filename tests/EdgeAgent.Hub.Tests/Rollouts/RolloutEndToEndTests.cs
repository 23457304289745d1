using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Hub.Tests.Releases;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using EdgeAgent.Updates.Events;
using Xunit;

namespace EdgeAgent.Hub.Tests.Rollouts;

/// <summary>
/// A rollout from end to end: a hub with real signing keys and the real release signer, a real Mosquitto,
/// devices that read their signed assignment through the TUF client the agent uses and report their update
/// state machine over MQTT. Injected failures (devices refusing the release) halt the rollout and the
/// devices it moved get their previous release back, signed.
/// </summary>
public sealed class RolloutEndToEndTests : IAsyncLifetime
{
    private const string Family = ReleaseModels.Family;
    private MosquittoBroker _broker = null!;
    private ReleaseHub _hub = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = await ReleaseHub.StartAsync(tweak: o => o with { MqttHost = "127.0.0.1", MqttPort = _broker.Port, CloudInference = false });
        await _hub.Service<MqttHubConsumer>().Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", 1);
        await _hub.RegisterAsync(ReleaseModels.V2, "2.0.0", 2);
        await _hub.Signer.PublishReleaseAsync(Family, "1.0.0", "test", default);
        await _hub.Signer.PublishReleaseAsync(Family, "2.0.0", "test", default);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    /// <summary>Publishes the agent's update transitions for one release as one batch on edgeagent/v1/{id}/update.</summary>
    private async Task ReportAsync(string deviceId, string version, long counter, IReadOnlyList<(string From, string To, string? Reason, string? Code)> steps)
    {
        await using var client = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + deviceId });
        await client.ConnectAsync();
        var now = DateTimeOffset.UtcNow;
        var events = steps.Select((s, i) => new WireEvent(i + 1, now, 0, TelemetryEventKind.Data,
            new UpdateEvent(Family, version, counter, s.From, s.To, s.Reason, null, now.AddMilliseconds(i), s.Code).ToJson(), true)).ToList();
        var batch = new TelemetryBatchEncoder().Encode(deviceId, TelemetryStream.Update, FleetReports.Boot(deviceId), events, now);
        var ack = await client.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(deviceId, TelemetryStream.Update), Payload = batch.Payload, ContentType = batch.ContentType });
        Assert.True(ack.ReasonCode < MqttReasonCode.UnspecifiedError, ack.ReasonCode.ToString());
        await client.DisconnectAsync();
    }

    [Fact]
    public async Task A_rollout_halts_when_devices_refuse_the_release_and_the_devices_it_moved_are_signed_back_to_their_previous_release()
    {
        var ids = await RolloutSetup.DevicesAsync(_hub.Store, "edge", 10, new Dictionary<string, string> { ["ring"] = "field" });
        await RolloutSetup.DevicesAsync(_hub.Store, "lab", 2, new Dictionary<string, string> { ["ring"] = "lab" });
        // The fleet runs 1.0.0, assigned before this rollout.
        await _hub.Assignments.PublishAsync([.. ids.Select(d => new DeviceAssignment { DeviceId = d, Models = new() { [Family] = "models/vib-mlp/1.0.0.bundle" } })], default);

        using var op = _hub.Client(_hub.OperatorToken);
        var created = await op.PostAsync("api/v1/rollouts", new StringContent("""
            {"id":"field-2","family":"vib-mlp","version":"2.0.0","cohort":{"ring":"field"},
             "steps":[{"percent":20,"bakeSeconds":0,"minDevices":2},{"percent":100,"bakeSeconds":0,"minDevices":8}],
             "thresholds":{"maxRefusalRatio":0.4}}
            """, Encoding.UTF8, "application/json"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        async Task<JsonNode> DetailAsync() => JsonNode.Parse(await reader.GetStringAsync("api/v1/rollouts/field-2"))!;
        var detail = await Eventually.ValueAsync(DetailAsync, d => (int)d["health"]!["assigned"]! == 2 && (int)d["unpublished"]! == 0, "first step assigned and signed");
        var moved = detail["devices"]!.AsArray().Select(d => (string)d!["deviceId"]!).ToList();
        Assert.All(moved, d => Assert.StartsWith("edge-", d));

        // What a moved device reads through TUF: the new release, signed, naming the rollout.
        await using (var device = await TestDevice.CreateAsync(_hub, moved[0]))
        {
            var assignment = await device.ReadAssignmentAsync();
            Assert.Equal(("models/vib-mlp/2.0.0.bundle", "field-2"), (assignment.Models[Family], assignment.Rollout));
        }

        // Injected failures: the first device commits, the second refuses (golden vectors off) -> 1 of 2 = 0.5 > 0.4.
        await ReportAsync(moved[0], "2.0.0", 2, [("idle", "downloading", null, null), ("downloading", "verifying", null, null), ("verifying", "validating", null, null),
            ("validating", "activating", null, null), ("activating", "observing", null, null), ("observing", "committed", null, null)]);
        await ReportAsync(moved[1], "2.0.0", 2, [("idle", "downloading", null, null), ("downloading", "verifying", null, null), ("verifying", "validating", null, null),
            ("validating", "refused", "release 2.0.0: golden vector 1 output 0 is 0.91, expected 0.12 (tolerance 0.05)", "GoldenVector")]);

        detail = await Eventually.ValueAsync(DetailAsync, d => (string)d["state"]! == "rolled-back" && (int)d["unpublished"]! == 0, "halted and rolled back");
        Assert.Contains("refusal ratio 0.5 (1 of 2 reporting devices refused vib-mlp@2.0.0) is above the limit 0.4", (string)detail["reason"]!);
        Assert.Contains("golden vector 1 output 0 is 0.91", (string)detail["reason"]!);
        Assert.Equal(["created", "assigned", "halted", "rolled-back"], detail["history"]!.AsArray().Select(h => (string)h!["action"]!));
        Assert.Equal(2, (int)detail["deviceStates"]!["reverted"]!);

        foreach (var id in moved)
        {
            await using var device = await TestDevice.CreateAsync(_hub, id);
            var back = await device.ReadAssignmentAsync();
            Assert.Equal(("models/vib-mlp/1.0.0.bundle", "field-2"), (back.Models[Family], back.Rollout));
        }
        // Devices the rollout never reached keep the assignment they had.
        var untouched = ids.First(d => !moved.Contains(d));
        Assert.Null((await _hub.Assignments.GetAsync(untouched, default))!.Rollout);
        Assert.Equal(8, ids.Count(d => !moved.Contains(d)));

        var updates = JsonNode.Parse(await reader.GetStringAsync($"api/v1/devices/{moved[1]}/updates"))!.AsArray();
        Assert.Equal(("refused", "GoldenVector"), ((string)updates[0]!["to"]!, (string)updates[0]!["code"]!));
        Assert.Equal(RolloutState.RolledBack, (await _hub.Store.GetRolloutAsync("field-2"))!.State);
    }
}
