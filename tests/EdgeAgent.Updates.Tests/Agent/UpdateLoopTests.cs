using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Service;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.TestSupport.Mosquitto;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Agent;

/// <summary>
/// The agent's update loop end to end in one process: real TUF repository over HTTP on 127.0.0.1 with the
/// delegated assignments role, real ONNX Runtime serving through the real pipeline, real SQLite outbox, and a
/// real Mosquitto for the fleet hint, the cmd topic and the drained <c>update</c> events.
/// </summary>
public sealed class UpdateLoopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static async Task<UpdateCheckResult> CheckAsync(UpdateLoopTestBed bed) =>
        await bed.Loop.RequestCheck("test").Result.WaitAsync(Patience);

    private static List<string> Transitions(UpdateLoopTestBed bed) =>
        bed.StoredUpdateEvents().Select(e => $"{e.GetProperty("from").GetString()}->{e.GetProperty("to").GetString()}").ToList();

    [Fact]
    public async Task An_assigned_release_is_downloaded_validated_activated_observed_on_live_traffic_and_committed()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);

        var result = await CheckAsync(bed);

        Assert.Equal("updated", result.Result);
        var family = Assert.Single(result.Families);
        Assert.Equal(("kws", target, "committed", "2.0.0"), (family.Family, family.Target, family.Phase, family.Version));
        Assert.Equal(UpdateTestBed.Sha(TestModels.V2.OnnxBytes), bed.Host!.ServingModelSha()); // hot-swapped into the serving engine
        Assert.Equal(("2.0.0", true, 2L), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted, bed.Pointer.ReleaseCounterFloor));
        Assert.Equal(["idle->downloading", "downloading->verifying", "verifying->validating", "validating->activating", "activating->observing", "observing->committed"],
            Transitions(bed));
        // The health window was fed by the pipeline's observer, not by anything else.
        var committed = bed.StoredUpdateEvents()[^1];
        Assert.True(committed.GetProperty("metrics").GetProperty("calls").GetDouble() >= 60);
        Assert.True(bed.Host.Pipeline.Counters.Windows > 0);

        // Nothing new: a second check is up to date and installs nothing.
        var again = await CheckAsync(bed);
        Assert.Equal("up-to-date", again.Result);
        Assert.Equal(6, bed.StoredUpdateEvents().Count);
        var status = bed.Loop.Status;
        Assert.Equal("idle", status.State);
        Assert.Equal(again.Id, status.LastCheck!.Id);
    }

    [Fact]
    public async Task An_assignment_signed_for_this_path_but_naming_another_device_is_refused_and_reported_once()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target, deviceIdInFile: "dev-2");

        var first = await CheckAsync(bed);
        var second = await CheckAsync(bed);

        Assert.Equal("assignment-refused", first.Result);
        Assert.Contains("names device 'dev-2', not this device 'dev-1'", first.Detail);
        Assert.Equal("assignment-refused", second.Result);
        Assert.Equal("1.0.0", bed.Pointer!.ActiveVersion);
        var events = bed.StoredUpdateEvents();
        var refused = Assert.Single(events); // once per assignment version, not per poll
        Assert.Equal("Assignment", refused.GetProperty("code").GetString());
        Assert.Contains("dev-2", refused.GetProperty("reason").GetString());
        Assert.Contains("dev-2", bed.Loop.Status.LastError);
    }

    [Fact]
    public async Task An_assignment_whose_bytes_differ_from_the_signed_metadata_is_refused_and_nothing_is_installed()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);
        // A man in the middle (or a broken mirror) rewrites the served assignment to pin another release.
        var served = bed.Server!.Files.Keys.Single(k => k.StartsWith("targets/assignments/", StringComparison.Ordinal));
        var original = bed.Server.Files[served];
        bed.Server.Files[served] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(original).Replace("2.0.0", "9.9.9"));

        var result = await CheckAsync(bed);

        Assert.Equal("failed", result.Result);
        Assert.Contains("assignments/dev-1.json", result.Detail);
        Assert.Empty(result.Families);
        Assert.Equal("1.0.0", bed.Pointer!.ActiveVersion);
        Assert.Empty(bed.StoredUpdateEvents());
        Assert.DoesNotContain(bed.Server.Requests, r => r.Path.Contains("2.0.0.bundle", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_device_without_a_model_installs_the_first_assigned_release_and_the_service_starts_serving_it()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync(installed: false);
        InstalledModel? announced = null;
        bed.Loop.FirstModelActivated += m => announced = m;
        await bed.StartAsync();
        Assert.Null(bed.Host);
        var target = bed.Publish("1.0.0", TestModels.Bundle(TestModels.V1, "1.0.0", 1));
        bed.Assign(target);

        var check = bed.Loop.RequestCheck("test").Result;
        var model = await bed.ServeFirstModelAsync(Patience); // the service's idle branch waits for this
        var result = await check.WaitAsync(Patience);

        Assert.Equal("1.0.0", model.Manifest.Version);
        Assert.Same(model, announced);
        Assert.Equal("updated", result.Result);
        Assert.Equal(("1.0.0", true), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted));
        Assert.Null(bed.Pointer.Previous);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.Host!.ServingModelSha());
        var committed = bed.StoredUpdateEvents()[^1];
        Assert.Equal("committed", committed.GetProperty("to").GetString());
        Assert.True(committed.GetProperty("metrics").GetProperty("calls").GetDouble() >= 60); // judged on the live pipeline
    }

    [Fact]
    public async Task A_release_that_collapses_on_live_data_is_rolled_back_and_the_update_topic_carries_the_reason()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await using var device = await ConnectAsync(broker, "dev-1");
        await using var hub = await ConnectAsync(broker, "hub");
        var received = new List<JsonElement>();
        hub.MessageHandler = (m, _) =>
        {
            lock (received)
                foreach (var e in TelemetryBatchDecoder.Decode(m.Payload.Span).Events)
                    if (e.Data is { } data) received.Add(data.Clone());
            return ValueTask.CompletedTask;
        };
        await hub.SubscribeAsync("edgeagent/v1/dev-1/update");
        using var drain = new CancellationTokenSource();
        var drainer = new OutboxDrainer(bed.Outbox, new MqttTelemetryTransport(device), new DrainerOptions { DeviceId = "dev-1" });
        var draining = drainer.RunAsync(drain.Token);
        await bed.StartAsync();
        var target = bed.Publish("3.0.0", TestModels.CollapsedBundle("3.0.0", 3));
        bed.Assign(target);

        var result = await CheckAsync(bed);

        Assert.Equal("rolled-back", result.Result);
        Assert.Contains("outputs collapsed: class 0", result.Detail);
        Assert.Equal(("1.0.0", true, 1L), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted, bed.Pointer.ReleaseCounterFloor));
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.Host!.ServingModelSha());
        await UpdateLoopTestBed.WaitUntilAsync(() => { lock (received) return received.Any(e => e.GetProperty("to").GetString() == "rolled-back"); },
            Patience, () => $"no rolled-back event on edgeagent/v1/dev-1/update; got {received.Count} events");
        JsonElement rolledBack;
        lock (received) rolledBack = received.Single(e => e.GetProperty("to").GetString() == "rolled-back");
        Assert.Equal("HealthCollapse", rolledBack.GetProperty("code").GetString());
        Assert.Contains("outputs collapsed", rolledBack.GetProperty("reason").GetString());
        Assert.Equal("3.0.0", rolledBack.GetProperty("version").GetString());
        drain.Cancel();
        try { await draining; } catch (OperationCanceledException) { }
    }

    [Fact]
    public async Task A_manual_rollback_serves_the_previous_slot_and_the_rolled_back_release_is_not_reinstalled()
    {
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await bed.StartAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);
        Assert.Equal("updated", (await CheckAsync(bed)).Result);

        var outcome = await bed.Loop.RequestRollbackAsync("kws", "customer complaint", CancellationToken.None).WaitAsync(Patience);

        Assert.Equal(UpdatePhase.RolledBack, outcome.Phase);
        Assert.Equal(UpdateRefusal.Operator, outcome.Refusal);
        Assert.Contains("customer complaint", outcome.Reason);
        Assert.Equal(("1.0.0", true, (string?)null), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted, bed.Pointer.Previous));
        Assert.Equal(2, bed.Pointer.ReleaseCounterFloor); // a rollback never lowers the floor
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.Host!.ServingModelSha());
        var last = bed.StoredUpdateEvents()[^1];
        Assert.Equal(("committed", "rolled-back", "Operator"), (last.GetProperty("from").GetString(), last.GetProperty("to").GetString(), last.GetProperty("code").GetString()));

        // The assignment still names 2.0.0: the device does not put it back.
        var again = await CheckAsync(bed);
        Assert.Equal("refused", again.Result);
        Assert.Equal("PreviouslyRejected", again.Families[0].Code);
        Assert.Equal("1.0.0", bed.Pointer!.ActiveVersion);

        // And there is nothing further back.
        var nothing = await Assert.ThrowsAsync<RollbackUnavailableException>(() => bed.Loop.RequestRollbackAsync("kws", "again", CancellationToken.None));
        Assert.Contains("no previous slot", nothing.Message);
    }

    [Fact]
    public async Task A_device_that_starts_offline_keeps_serving_and_updates_when_the_retained_fleet_hint_arrives()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        // Retries far apart: only the hint may bring the device to the server in this test.
        await using var bed = await UpdateLoopTestBed.CreateAsync(online: false, tweak: o => o with { RetryInitial = TimeSpan.FromHours(1), RetryMax = TimeSpan.FromHours(1) });
        await using var device = await ConnectAsync(broker, "dev-1");
        bed.Loop.AttachMqtt(device);
        await bed.StartAsync();

        var offline = bed.Loop.Status.LastCheck!; // the start-up check
        Assert.Equal(("offline", "start"), (offline.Result, offline.Trigger));
        Assert.Equal("offline", bed.Loop.Status.State);
        Assert.Contains("update server unreachable", bed.Loop.Status.LastError);
        Assert.False(bed.Host!.Running.IsCompleted); // still serving

        await bed.BringServerUpAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);
        var before = bed.Loop.Status.ChecksCompleted;
        await using var hub = await ConnectAsync(broker, "hub");
        await hub.PublishAsync(new MqttApplicationMessage
        {
            Topic = UpdateLoop.HintTopic, Payload = """{"timestampVersion":2}"""u8.ToArray(), Retain = true, QoS = MqttQualityOfService.AtLeastOnce,
        });

        await UpdateLoopTestBed.WaitUntilAsync(() => bed.Loop.Status.ChecksCompleted > before, Patience, () => $"no check after the hint: {bed.Loop.Status}");
        Assert.Equal(("fleet-hint", "updated"), (bed.Loop.Status.LastCheck!.Trigger, bed.Loop.Status.LastCheck.Result));
        Assert.Equal(("2.0.0", true), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted));
        Assert.Equal(UpdateTestBed.Sha(TestModels.V2.OnnxBytes), bed.Host.ServingModelSha());
    }

    [Fact]
    public async Task Check_and_rollback_commands_on_the_devices_cmd_topic_are_carried_out()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var bed = await UpdateLoopTestBed.CreateAsync();
        await using var device = await ConnectAsync(broker, "dev-1");
        var forwarded = new List<string>();
        device.MessageHandler = (m, _) => { lock (forwarded) forwarded.Add(Encoding.UTF8.GetString(m.Payload.Span)); return ValueTask.CompletedTask; };
        bed.Loop.AttachMqtt(device);
        await bed.StartAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        bed.Assign(target);
        await using var hub = await ConnectAsync(broker, "hub");
        await UpdateLoopTestBed.WaitUntilAsync(() => bed.Loop.ListensOnMqtt, Patience, () => "never subscribed");

        await Publish(hub, """{"command":"check-update"}""");
        await UpdateLoopTestBed.WaitUntilAsync(() => bed.Loop.Status.ChecksCompleted >= 2, Patience, () => $"check-update not carried out: {bed.Loop.Status}");
        Assert.Equal(("cmd", "updated"), (bed.Loop.Status.LastCheck!.Trigger, bed.Loop.Status.LastCheck.Result));
        Assert.Equal(("2.0.0", true), (bed.Pointer!.ActiveVersion, bed.Pointer.ActiveCommitted));

        await Publish(hub, """{"command":"rollback","family":"kws","reason":"hub rollout halted"}""");
        await UpdateLoopTestBed.WaitUntilAsync(() => bed.Pointer!.ActiveVersion == "1.0.0", Patience, () => "rollback not carried out");
        await UpdateLoopTestBed.WaitUntilAsync(() => bed.StoredUpdateEvents()[^1].GetProperty("to").GetString() == "rolled-back", Patience, () => "no event");
        Assert.Contains("hub rollout halted", bed.StoredUpdateEvents()[^1].GetProperty("reason").GetString());

        // Commands that are not the update loop's go on to the handler that was there before.
        await Publish(hub, """{"command":"set-config","key":"x"}""");
        await UpdateLoopTestBed.WaitUntilAsync(() => { lock (forwarded) return forwarded.Any(f => f.Contains("set-config")); }, Patience, () => "not forwarded");
    }

    private static Task Publish(MqttClient hub, string json) => hub.PublishAsync(new MqttApplicationMessage
    {
        Topic = "edgeagent/v1/dev-1/cmd", Payload = Encoding.UTF8.GetBytes(json), QoS = MqttQualityOfService.AtLeastOnce,
    });

    private static async Task<MqttClient> ConnectAsync(MosquittoBroker broker, string clientId)
    {
        var client = new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = clientId,
            ReconnectMinDelay = TimeSpan.FromMilliseconds(200), ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        });
        await client.ConnectAsync();
        return client;
    }
}
