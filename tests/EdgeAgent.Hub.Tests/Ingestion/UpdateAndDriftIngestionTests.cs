using System.Text;
using System.Text.Json;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Hub.Tests.Rollouts;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using EdgeAgent.Updates.Events;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace EdgeAgent.Hub.Tests.Ingestion;

/// <summary>
/// The two encodings of drift windows (the agent pipeline's JSON and a bare binary sketch) and the update
/// stream, through the real ingestor on a real store.
/// </summary>
public sealed class UpdateAndDriftIngestionTests(SqliteStoreFactory stores) : IClassFixture<SqliteStoreFactory>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 5, 0, 0, TimeSpan.Zero);
    private static readonly string Boot = new('a', 32);

    private static byte[] Batch(string device, TelemetryStream stream, IReadOnlyList<WireEvent> events) =>
        new TelemetryBatchEncoder().Encode(device, stream, Boot, events, T0).Payload;

    /// <summary>Drift snapshots exactly as the agent's pipeline makes them: a real DriftMonitor fed model input windows.</summary>
    private static IReadOnlyList<DriftWindowSnapshot> AgentSnapshots(string model, double shift, int windows, int seed)
    {
        var spec = new WindowSpec { Length = 128, Hop = 128, Channels = ["x0", "x1"] };
        var time = new ManualTime(T0);
        var monitor = new DriftMonitor(model, spec, null, new DriftMonitorOptions { SnapshotEveryWindows = windows, Random = new Random(seed) }, time);
        var rng = new Random(seed);
        var window = new float[spec.Length * spec.Channels.Count];
        for (int w = 0; w < windows; w++)
        {
            for (int i = 0; i < window.Length; i++) window[i] = FleetReports.Gaussian(rng, shift);
            long start = (long)w * 1_000_000_000;
            monitor.Add(window, new WindowInfo(w, start, start + 999_000_000, T0.AddSeconds(w)));
        }
        Assert.True(monitor.SnapshotDue());
        return monitor.TakeSnapshot();
    }

    /// <summary>As the outbox sends them: JSON in <c>data</c>, the merge key <c>MODEL/FEATURE</c> in <c>key</c>.</summary>
    private static IReadOnlyList<WireEvent> AsOutboxEvents(IReadOnlyList<DriftWindowSnapshot> snapshots, long firstSeq) =>
        snapshots.Select((s, i) => new WireEvent(firstSeq + i, s.WindowEnd, 0, TelemetryEventKind.Data,
            JsonSerializer.SerializeToUtf8Bytes(s, PipelineJsonContext.Default.DriftWindowSnapshot), true, $"{s.Model}/{s.Feature}")).ToList();

    [Fact]
    public async Task Drift_windows_in_the_agent_pipeline_json_encoding_are_stored_and_merged_with_binary_windows()
    {
        await using var store = await stores.CreateAsync();
        var ingestor = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
        var snapshots = AgentSnapshots("vib-mlp@3.0.0", 0, 20, 1);
        var json = await ingestor.IngestAsync("edgeagent/v1/d-json/drift", Batch("d-json", TelemetryStream.Drift, AsOutboxEvents(snapshots, 1)), default);
        Assert.Null(json.Rejected);
        Assert.Equal(2, json.DriftWindows);

        var binary = new KllFloatsSketch();
        for (int i = 0; i < 1000; i++) binary.Update(i / 1000f);
        var bin = await ingestor.IngestAsync("edgeagent/v1/d-bin/drift", Batch("d-bin", TelemetryStream.Drift,
            [new WireEvent(1, T0, 0, TelemetryEventKind.Data, binary.ToByteArray(), false, "vib-mlp@3.0.0/x0")]), default);
        Assert.Equal(1, bin.DriftWindows);

        var day = DateOnly.FromDateTime(T0.UtcDateTime);
        var stored = await store.ListDriftWindowsAsync("vib-mlp", "3.0.0", day);
        Assert.Equal(["x0", "x0", "x1"], stored.Select(w => w.Feature).Order());
        var x1 = stored.Single(w => w.Feature == "x1");
        Assert.Equal(Convert.FromBase64String(snapshots.Single(s => s.Feature == "x1").Kll), x1.Sketch);
        Assert.Empty(await store.ListRejectedMessagesAsync(10));

        var fleet = await new FleetDriftReport(store).BuildAsync("vib-mlp", "3.0.0", day, default);
        var x0 = fleet.Features.Single(f => f.Feature == "x0");
        Assert.Equal((2, 2, 20L * 128 + 1000), (x0.Windows, x0.Devices, x0.Count));
    }

    [Fact]
    public async Task A_json_drift_window_with_a_broken_sketch_or_a_key_naming_another_feature_is_parked_and_nothing_is_lost()
    {
        await using var store = await stores.CreateAsync();
        var ingestor = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
        var good = AgentSnapshots("vib-mlp@3.0.0", 0, 4, 2);
        var broken = good[0] with { Kll = Convert.ToBase64String("not a sketch"u8.ToArray()) };
        var events = AsOutboxEvents([broken, good[1]], 1).ToList();
        events.Add(new WireEvent(3, T0, 0, TelemetryEventKind.Data, JsonSerializer.SerializeToUtf8Bytes(good[1], PipelineJsonContext.Default.DriftWindowSnapshot), true, "vib-mlp@3.0.0/x9"));
        events.Add(new WireEvent(4, T0, 0, TelemetryEventKind.Data, """{"schema":"edgeagent.drift.window/2","model":"vib-mlp@3.0.0","feature":"x0","kll":""}"""u8.ToArray(), true));
        var r = await ingestor.IngestAsync("edgeagent/v1/d1/drift", Batch("d1", TelemetryStream.Drift, events), default);
        Assert.Equal((4, 1), (r.Inserted, r.DriftWindows)); // every event kept; only the good window merged
        var parked = Assert.Single(await store.ListRejectedMessagesAsync(10));
        Assert.Contains("3 drift window(s) stored as events but not merged", parked.Reason);
        Assert.Contains("seq 1: sketch is not a DataSketches KLL float sketch", parked.Reason);
        Assert.Contains("seq 3: drift key 'vib-mlp@3.0.0/x9' does not name the window's model 'vib-mlp@3.0.0' and feature 'x1'", parked.Reason);
        Assert.Contains("seq 4: drift window schema 'edgeagent.drift.window/2' is not edgeagent.drift.window/1", parked.Reason);
    }

    [Fact]
    public async Task Update_events_that_break_the_contract_are_stored_as_events_and_parked_with_the_reason()
    {
        await using var store = await stores.CreateAsync();
        var ingestor = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
        var r = await ingestor.IngestAsync("edgeagent/v1/d1/update", Batch("d1", TelemetryStream.Update,
        [
            new WireEvent(1, T0, 0, TelemetryEventKind.Data, new UpdateEvent("vib", "2.0.0", 2, "idle", "downloading", null, null, T0).ToJson(), true),
            new WireEvent(2, T0, 0, TelemetryEventKind.Data, """{"family":"vib","version":"2.0.0","from":"downloading","to":"exploded"}"""u8.ToArray(), true),
            new WireEvent(3, T0, 0, TelemetryEventKind.Data, """{"version":"2.0.0","from":"idle","to":"downloading"}"""u8.ToArray(), true),
        ]), default);
        Assert.Equal(3, r.Inserted);
        Assert.Equal("downloading", Assert.Single(await store.ListDeviceUpdatesAsync("d1", 10)).To);
        var parked = Assert.Single(await store.ListRejectedMessagesAsync(10));
        Assert.Contains("2 update event(s) stored as events but not applied", parked.Reason);
        Assert.Contains("seq 2: update event phases 'downloading' → 'exploded' are not among", parked.Reason);
        Assert.Contains("seq 3: update event needs 'family' and 'version'", parked.Reason);
        // An update batch on the telemetry topic is refused as a whole.
        var wrong = await ingestor.IngestAsync("edgeagent/v1/d1/telemetry", Batch("d1", TelemetryStream.Update,
            [new WireEvent(9, T0, 0, TelemetryEventKind.Data, new UpdateEvent("vib", "2.0.0", 2, "idle", "downloading", null, null, T0).ToJson(), true)]), default);
        Assert.Contains("belongs on edgeagent/v1/d1/update", wrong.Rejected);
    }

    [Fact]
    public async Task Update_batches_over_a_real_broker_reach_the_shared_subscription_once_each_and_nudge_the_rollout_engine()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var hub = await RunningHub.StartAsync("127.0.0.1", broker.Port);
        await hub.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("$share/hub/edgeagent/v1/+/update", hub.Mqtt.TopicFilters);
        long nudges = hub.Service<RolloutSignal>().Nudges;
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "dev-u1" });
        await device.ConnectAsync();
        var payload = Batch("u1", TelemetryStream.Update,
        [
            new WireEvent(1, T0, 0, TelemetryEventKind.Data, new UpdateEvent("vib", "2.0.0", 2, "idle", "downloading", null, new() { ["bytes"] = 9000 }, T0).ToJson(), true),
            new WireEvent(2, T0, 0, TelemetryEventKind.Data, new UpdateEvent("vib", "2.0.0", 2, "downloading", "verifying", null, null, T0.AddSeconds(2)).ToJson(), true),
        ]);
        for (int i = 0; i < 2; i++) // the second is a redelivery after a lost PUBACK
            await device.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/u1/update", Payload = payload });
        await Eventually.ValueAsync(() => hub.Store.ListDeviceUpdatesAsync("u1", 10), u => u.Count >= 2, "two transitions stored");
        await Task.Delay(300); // let a (wrong) second copy arrive before counting
        Assert.Equal(["verifying", "downloading"], (await hub.Store.ListDeviceUpdatesAsync("u1", 10)).Select(u => u.To));
        Assert.Equal(2, await hub.Store.CountEventsAsync("u1"));
        Assert.True(hub.Service<RolloutSignal>().Nudges > nudges, "the engine was nudged by the new transitions");
        var state = Assert.Single(await hub.Store.ListDeviceUpdateStatesAsync("vib"));
        Assert.Equal(("u1", "verifying"), (state.DeviceId, state.Phase));
    }
}
