using System.Text;
using System.Text.Json.Nodes;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Hub.Tests.Api;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Ingestion;

/// <summary>Telemetry, drift and status through a real Mosquitto broker into a real hub.</summary>
public sealed class MqttIngestionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private MosquittoBroker _broker = null!;
    private RunningHub _hub = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = await RunningHub.StartAsync("127.0.0.1", _broker.Port);
        await _hub.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private async Task<MqttClient> DeviceAsync(string id, MqttApplicationMessage? will = null)
    {
        var c = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + id, Will = will, KeepAlive = TimeSpan.FromSeconds(5) });
        await c.ConnectAsync();
        return c;
    }

    private static WireEvent Data(long seq) =>
        new(seq, T0.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes($$"""{"model":"vib","score":{{seq}}}"""), true);

    private static WireEvent Tombstone(long seq, string boot, long from, long to, long count) =>
        new(seq, T0.AddSeconds(seq), 255, TelemetryEventKind.Tombstone,
            Encoding.UTF8.GetBytes($$"""{"stream":"telemetry","bootId":"{{boot}}","fromSeq":{{from}},"toSeq":{{to}},"count":{{count}},"reason":"disk budget exceeded; oldest events dropped"}"""), true);

    private static async Task PublishAsync(MqttClient device, string deviceId, TelemetryStream stream, string boot, IReadOnlyList<WireEvent> events)
    {
        var batch = new TelemetryBatchEncoder().Encode(deviceId, stream, boot, events, T0);
        var r = await device.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(deviceId, stream), Payload = batch.Payload, ContentType = batch.ContentType });
        Assert.True(r.ReasonCode < MqttReasonCode.UnspecifiedError, r.ReasonCode.ToString());
    }

    [Fact]
    public async Task Batches_with_duplicates_reordering_and_a_tombstone_are_stored_exactly_once_with_the_gap()
    {
        const string id = "press-17";
        var boot = new string('a', 32);
        await using var device = await DeviceAsync(id);
        var first = Enumerable.Range(1, 10).Select(i => Data(i)).ToList();
        var second = Enumerable.Range(11, 10).Select(i => Data(i)).ToList();
        var overlap = Enumerable.Range(5, 11).Select(i => Data(i)).ToList();
        var third = new List<WireEvent> { Tombstone(21, boot, 22, 40, 19) };
        third.AddRange(Enumerable.Range(41, 5).Select(i => Data(i)));

        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, second);   // reordered: later batch first
        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, first);
        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, first);    // a retry of a batch whose PUBACK was lost
        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, overlap);  // overlapping redelivery
        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, third);
        await PublishAsync(device, id, TelemetryStream.Telemetry, boot, third);

        // A different boot with the same seqs is new data.
        await PublishAsync(device, id, TelemetryStream.Telemetry, new string('b', 32), first[..3]);

        var expected = Enumerable.Range(1, 21).Concat(Enumerable.Range(41, 5)).Select(i => (long)i).ToList();
        await Eventually.ValueAsync(() => _hub.Store.CountEventsAsync(id), n => n >= expected.Count + 3, "all events stored");
        await Task.Delay(300); // let any (wrong) extra copies arrive before counting
        var events = await _hub.Store.ListEventsAsync(id, 1000);
        Assert.Equal(expected, events.Where(e => e.BootId == boot).Select(e => e.Seq));
        Assert.Equal(3, events.Count(e => e.BootId != boot));
        Assert.Equal("tombstone", events.Single(e => e.Seq == 21 && e.BootId == boot).Kind);
        Assert.Contains("\"score\":7", events.Single(e => e.Seq == 7 && e.BootId == boot).Data);

        var gap = Assert.Single(await _hub.Store.ListGapsAsync(id));
        Assert.Equal((boot, "telemetry", 22L, 40L, 19L), (gap.BootId, gap.Stream, gap.FromSeq, gap.ToSeq, gap.Count));
        var stats = _hub.Ingestor.DedupStatistics;
        Assert.True(stats.Duplicates >= 10 + 11 + 6, $"dedup saw {stats.Duplicates} duplicates");
    }

    [Fact]
    public async Task Malformed_or_spoofed_batches_are_parked_with_the_reason_and_nothing_is_stored()
    {
        await using var device = await DeviceAsync("mallory");
        await device.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/mallory/telemetry", Payload = "{not json"u8.ToArray() });
        var spoofed = new TelemetryBatchEncoder().Encode("victim", TelemetryStream.Telemetry, new string('c', 32), [Data(1)], T0);
        await device.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/mallory/telemetry", Payload = spoofed.Payload });

        var rejected = await Eventually.ValueAsync(() => _hub.Store.ListRejectedMessagesAsync(10), r => r.Count >= 2, "two parked messages");
        Assert.Contains(rejected, r => r.Reason.Contains("not valid batch JSON"));
        Assert.Contains(rejected, r => r.Reason.Contains("batch deviceId 'victim' does not match the topic's device 'mallory'"));
        Assert.Equal(spoofed.Payload, rejected.Single(r => r.Reason.Contains("victim")).Payload);
        Assert.Equal(0, await _hub.Store.CountEventsAsync());
    }

    [Fact]
    public async Task Device_status_goes_online_from_the_retained_report_and_offline_through_the_last_will()
    {
        const string id = "pump-3";
        var will = new MqttApplicationMessage { Topic = $"edgeagent/v1/{id}/status", Payload = """{"online":false}"""u8.ToArray(), Retain = true };
        var device = await DeviceAsync(id, will);
        await device.PublishAsync(new MqttApplicationMessage
        {
            Topic = $"edgeagent/v1/{id}/status", Retain = true,
            Payload = """{"online":true,"agentVersion":"0.1.0","activeModel":"vib-mlp@1.0.0","updateState":"idle","health":{"inference":"ok"}}"""u8.ToArray(),
        });
        var online = await Eventually.ValueAsync(() => _hub.Store.GetDeviceAsync(id), d => d?.Online == true, "device online");
        Assert.Equal(("0.1.0", "vib-mlp@1.0.0", "idle", """{"inference":"ok"}"""), (online!.AgentVersion, online.ActiveModel, online.UpdateState, online.Health));

        // An abnormal end of the connection: the broker publishes the Will (MQTT 5 §3.14.2.1, reason 0x04).
        await device.DisconnectAsync(MqttReasonCode.DisconnectWithWillMessage);
        await device.DisposeAsync();
        var offline = await Eventually.ValueAsync(() => _hub.Store.GetDeviceAsync(id), d => d?.Online == false, "device offline via will");
        Assert.Equal("""{"online":false}""", offline!.StatusJson);

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var view = JsonNode.Parse(await reader.GetStringAsync($"api/v1/devices/{id}"))!;
        Assert.False((bool)view["online"]!);
    }

    [Fact]
    public async Task Two_hub_instances_share_the_telemetry_load_and_store_each_event_once()
    {
        // A second hub on the same store and broker, in the same shared-subscription group.
        await using var second = await RunningHub.StartAsync("127.0.0.1", _broker.Port, store: "sqlite:" + _hub.StorePath, clientId: "edgehub-second");
        await second.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        const string id = "conveyor-5";
        var boot = new string('9', 32);
        await using var device = await DeviceAsync(id);
        for (int b = 0; b < 20; b++)
            await PublishAsync(device, id, TelemetryStream.Telemetry, boot, Enumerable.Range(b * 10 + 1, 10).Select(i => Data(i)).ToList());

        await Eventually.ValueAsync(() => _hub.Store.CountEventsAsync(id), n => n >= 200, "200 events");
        var a = _hub.Ingestor.DedupStatistics.Accepted;
        var b2 = second.Ingestor.DedupStatistics.Accepted;
        Assert.True(a > 0 && b2 > 0, $"both instances should take part: {a} and {b2}");
        Assert.Equal(200, a + b2); // each message went to exactly one member of the group
        Assert.Equal(200, await _hub.Store.CountEventsAsync(id));
    }

    [Fact]
    public async Task A_batch_arriving_while_the_store_fails_is_retried_and_stored_once_the_store_is_back()
    {
        const string id = "mixer-2";
        var store = (EdgeAgent.Hub.Storage.SqlHubStore)_hub.Store;
        // An injected fault: the events table disappears, so every insert fails with a database error.
        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events RENAME TO telemetry_events_away");
        await using var device = await DeviceAsync(id);
        // The broker acknowledges the device at once; the hub holds its own acknowledgement while it retries.
        await PublishAsync(device, id, TelemetryStream.Telemetry, new string('2', 32), Enumerable.Range(1, 10).Select(i => Data(i)).ToList());
        await Task.Delay(1500); // several failed attempts
        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events_away RENAME TO telemetry_events");
        await Eventually.ValueAsync(() => _hub.Store.CountEventsAsync(id), n => n >= 10, "the batch stored after the fault");
        var events = await _hub.Store.ListEventsAsync(id, 100);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.Empty(await _hub.Store.ListRejectedMessagesAsync(10)); // retried, not parked
    }

    [Fact]
    public async Task A_status_payload_without_online_is_parked_and_the_device_left_unchanged()
    {
        await using var device = await DeviceAsync("valve-8");
        await device.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/valve-8/status", Payload = """{"agentVersion":"0.1.0"}"""u8.ToArray() });
        var rejected = await Eventually.ValueAsync(() => _hub.Store.ListRejectedMessagesAsync(10), r => r.Count >= 1, "parked status");
        Assert.Contains("needs a boolean 'online' field", rejected.Single().Reason);
        Assert.Null(await _hub.Store.GetDeviceAsync("valve-8"));
    }

    [Fact]
    public async Task Drift_sketches_from_several_devices_merge_per_model_version_and_day()
    {
        var day = DateOnly.FromDateTime(T0.UtcDateTime);
        var rng = new Random(5);
        long total = 0;
        foreach (var id in new[] { "d-a", "d-b", "d-c" })
        {
            await using var device = await DeviceAsync(id);
            var events = new List<WireEvent>();
            for (int w = 1; w <= 2; w++)
            {
                var sketch = new KllFloatsSketch();
                for (int i = 0; i < 1000; i++) sketch.Update((float)(rng.NextDouble() * 10));
                total += sketch.N;
                events.Add(new WireEvent(w, T0.AddMinutes(w), 0, TelemetryEventKind.Data, sketch.ToByteArray(), false, "vib-mlp@1.0.0/x0"));
            }
            await PublishAsync(device, id, TelemetryStream.Drift, new string('d', 32), events);
            await PublishAsync(device, id, TelemetryStream.Drift, new string('d', 32), events); // redelivered
        }
        await Eventually.ValueAsync(async () => (await _hub.Store.ListDriftWindowsAsync("vib-mlp", "1.0.0", day)).Count, n => n >= 6, "six drift windows");
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var drift = JsonNode.Parse(await reader.GetStringAsync($"api/v1/drift/vib-mlp/1.0.0?day={day:yyyy-MM-dd}"))!;
        var feature = drift["features"]!.AsArray().Single()!;
        Assert.Equal(("x0", 6, 3, total), ((string)feature["feature"]!, (int)feature["windows"]!, (int)feature["devices"]!, (long)feature["count"]!));
        Assert.InRange((float)feature["median"]!, 4f, 6f);
        Assert.False((bool)drift["hasReference"]!);
    }

    [Fact]
    public async Task Fleet_drift_is_measured_against_the_reference_profile_registered_with_the_model()
    {
        // Reference: feature x0 ~ N(0, 1) from training data; the fleet sends x0 ~ N(0, 1) and x1 ~ N(1.5, 1) shifted.
        var rng = new Random(11);
        float Gaussian(double mean) => (float)(mean + Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var refX0 = new FeatureAccumulator();
        var refX1 = new FeatureAccumulator();
        for (int i = 0; i < 20_000; i++) { refX0.Add(Gaussian(0)); refX1.Add(Gaussian(0)); }
        var model = QdqMlp.Generate();
        var manifest = AdminApiTests.ManifestFor(model, "2.0.0");
        manifest.DriftProfile = ReferenceProfileJson.ToDocument(new ReferenceProfile([FeatureProfile.FromAccumulator("x0", refX0), FeatureProfile.FromAccumulator("x1", refX1)]));
        using var op = _hub.Client(_hub.OperatorToken);
        var registered = await op.PostAsync("api/v1/models", AdminApiTests.Upload(model.OnnxBytes, AdminApiTests.Json(manifest)));
        Assert.True(registered.StatusCode == System.Net.HttpStatusCode.Created, await registered.Content.ReadAsStringAsync());

        foreach (var id in new[] { "f-1", "f-2" })
        {
            await using var device = await DeviceAsync(id);
            var x0 = new KllFloatsSketch();
            var x1 = new KllFloatsSketch();
            for (int i = 0; i < 5000; i++) { x0.Update(Gaussian(0)); x1.Update(Gaussian(1.5)); }
            await PublishAsync(device, id, TelemetryStream.Drift, new string('7', 32),
            [
                new WireEvent(1, T0, 0, TelemetryEventKind.Data, x0.ToByteArray(), false, "vib-mlp@2.0.0/x0"),
                new WireEvent(2, T0, 0, TelemetryEventKind.Data, x1.ToByteArray(), false, "vib-mlp@2.0.0/x1"),
            ]);
        }
        var day = DateOnly.FromDateTime(T0.UtcDateTime);
        await Eventually.ValueAsync(async () => (await _hub.Store.ListDriftWindowsAsync("vib-mlp", "2.0.0", day)).Count, n => n >= 4, "four drift windows");
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var drift = JsonNode.Parse(await reader.GetStringAsync($"api/v1/drift/vib-mlp/2.0.0?day={day:yyyy-MM-dd}"))!;
        Assert.True((bool)drift["hasReference"]!);
        var features = drift["features"]!.AsArray().ToDictionary(f => (string)f!["feature"]!, f => f!);
        Assert.Equal(10_000L, (long)features["x0"]["count"]!);
        Assert.True((double)features["x0"]["psi"]! < 0.1, $"stable feature PSI {features["x0"]["psi"]}");
        Assert.False((bool)features["x0"]["ksDrift"]!);
        Assert.True((double)features["x1"]["psi"]! > 0.25, $"shifted feature PSI {features["x1"]["psi"]}");
        Assert.True((bool)features["x1"]["ksDrift"]!);
        Assert.InRange((double)features["x1"]["wasserstein1Normalized"]!, 1.2, 1.8); // a 1.5 σ shift
    }

    [Fact]
    public async Task A_stored_batch_and_its_duplicate_are_each_acknowledged_to_the_device_and_a_parked_one_is_not()
    {
        // End-to-end ack (docs/CHAOS.md bug 3): edgeagent/v1/{id}/ack after the store commit.
        const string boot = "0123456789abcdef0123456789abcdef";
        var acks = new System.Collections.Concurrent.ConcurrentQueue<EdgeAgent.Telemetry.Acks.TelemetryAck>();
        var ignored = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var device = await DeviceAsync("ack-1");
        device.MessageHandler = (m, _) =>
        {
            if (EdgeAgent.Telemetry.Acks.TelemetryAckCodec.TryDecode(m.Payload.Span, out var ack, out var why)) acks.Enqueue(ack!);
            else ignored.Enqueue(why!.Message);
            return ValueTask.CompletedTask;
        };
        await device.SubscribeAsync(TelemetryStreams.AckTopic("ack-1"));
        var batch = new TelemetryBatchEncoder().Encode("ack-1", TelemetryStream.Telemetry, boot, [Data(3), Data(4), Data(7)], T0, epoch: 2);
        var message = new MqttApplicationMessage { Topic = TelemetryStreams.Topic("ack-1", TelemetryStream.Telemetry), Payload = batch.Payload, ContentType = batch.ContentType };

        await device.PublishAsync(message);
        await Eventually.ValueAsync(() => Task.FromResult(acks.Count), c => c >= 1, "1 ack(s) from the hub");
        await device.PublishAsync(message); // a resend (e.g. after the device's ack timeout): duplicates, acknowledged again
        await Eventually.ValueAsync(() => Task.FromResult(acks.Count), c => c >= 2, "2 ack(s) from the hub");
        await device.PublishAsync(message with { Payload = Encoding.UTF8.GetBytes("{\"schema\":\"nope\"}") }); // parked, never stored
        await PublishAsync(device, "ack-1", TelemetryStream.Update, boot, [Data(9)]);
        await Eventually.ValueAsync(() => Task.FromResult(acks.Count), c => c >= 3, "3 ack(s) from the hub"); // the update batch after the parked one is acked; the parked one was not

        Assert.Equal([(2, "telemetry", 3L, 7L), (2, "telemetry", 3L, 7L), (0, "update", 9L, 9L)], acks.Select(a => (a.Epoch, a.Stream, a.Ranges[0][0], a.Ranges[^1][1])));
        Assert.All(acks, a => Assert.Equal(boot, a.BootId));
        Assert.Empty(ignored);
    }

    private async Task<MqttClient> AckedDeviceAsync(string id, System.Collections.Concurrent.ConcurrentQueue<EdgeAgent.Telemetry.Acks.TelemetryAck> acks)
    {
        var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + id });
        device.MessageHandler = (m, ct) =>
        {
            if (EdgeAgent.Telemetry.Acks.TelemetryAckCodec.TryDecode(m.Payload.Span, out var ack, out EdgeAgent.Telemetry.Acks.AckRejection? _)) acks.Enqueue(ack!);
            return ValueTask.CompletedTask;
        };
        await device.ConnectAsync();
        await device.SubscribeAsync(TelemetryStreams.AckTopic(id));
        return device;
    }

    [Fact]
    public async Task Messages_queued_while_the_store_fails_are_stored_together_once_it_is_back_each_once_and_each_acknowledged_after_the_commit()
    {
        var store = (EdgeAgent.Hub.Storage.SqlHubStore)_hub.Store;
        string boot = new('5', 32);
        var acksA = new System.Collections.Concurrent.ConcurrentQueue<EdgeAgent.Telemetry.Acks.TelemetryAck>();
        var acksB = new System.Collections.Concurrent.ConcurrentQueue<EdgeAgent.Telemetry.Acks.TelemetryAck>();
        await using var a = await AckedDeviceAsync("line-a", acksA);
        await using var b = await AckedDeviceAsync("line-b", acksB);

        // Injected fault: every insert of events fails, so the hub keeps retrying the first batch while the rest queue up.
        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events RENAME TO telemetry_events_away");
        var encoder = new TelemetryBatchEncoder();
        for (int i = 1; i <= 8; i++)
        {
            // Like the fleet: one event per message, two devices interleaved, a malformed message and a resend in between.
            foreach (var (device, id) in new[] { (a, "line-a"), (b, "line-b") })
            {
                var batch = encoder.Encode(id, TelemetryStream.Telemetry, boot, [Data(i)], T0);
                await device.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(id, TelemetryStream.Telemetry), Payload = batch.Payload });
            }
            if (i == 4) await a.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/line-a/telemetry", Payload = "{broken"u8.ToArray() });
            if (i == 5) await a.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/line-a/status", Payload = """{"online":true,"agentVersion":"0.2.0"}"""u8.ToArray() });
            if (i == 6)
            {
                var resend = encoder.Encode("line-b", TelemetryStream.Telemetry, boot, [Data(5)], T0);
                await b.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/line-b/telemetry", Payload = resend.Payload });
            }
        }
        await Task.Delay(1500); // the broker hands the queued messages over; the hub retries its first batch meanwhile
        Assert.Empty(acksA);     // nothing acknowledged end to end while nothing is stored
        Assert.Empty(acksB);
        Assert.Empty(await _hub.Store.ListRejectedMessagesAsync(10)); // the malformed one is parked with its batch, not before

        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events_away RENAME TO telemetry_events");
        await Eventually.ValueAsync(() => Task.FromResult(acksA.Count + acksB.Count), n => n >= 17, "17 end-to-end acks");
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), (await _hub.Store.ListEventsAsync("line-a", 100)).Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), (await _hub.Store.ListEventsAsync("line-b", 100)).Select(e => e.Seq));
        Assert.Contains("not valid batch JSON", Assert.Single(await _hub.Store.ListRejectedMessagesAsync(10)).Reason);

        // One ack per stored message, in publish order per device; the resend of seq 5 is acknowledged again.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), acksA.Select(x => x.Ranges[0][0]));
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L, 5L, 7L, 8L], acksB.Select(x => x.Ranges[0][0]));
        Assert.True(_hub.Mqtt.LargestBatch > 1, $"messages queued behind the failing store should arrive as one batch (largest {_hub.Mqtt.LargestBatch})");
        Assert.Equal(17L + 2, _hub.Mqtt.Messages); // 16 events + 1 resend + 1 malformed + 1 status, each handed over once
        var status = await _hub.Store.GetDeviceAsync("line-a"); // a status report inside a batch is applied on its own
        Assert.Equal((true, "0.2.0"), (status!.Online, status.AgentVersion));
    }
}

/// <summary>The ingestor without a broker: what a hub restart or a second hub instance sees.</summary>
public sealed class TelemetryIngestorTests : IClassFixture<SqliteStoreFactory>
{
    private readonly SqliteStoreFactory _stores;

    public TelemetryIngestorTests(SqliteStoreFactory stores) => _stores = stores;

    [Fact]
    public async Task A_batch_redelivered_to_a_restarted_hub_or_another_instance_is_not_stored_twice()
    {
        await using var store = await _stores.CreateAsync();
        var boot = new string('e', 32);
        var t0 = new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
        var events = Enumerable.Range(1, 20).Select(i => new WireEvent(i, t0.AddSeconds(i), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"), true)).ToList();
        var batch = new TelemetryBatchEncoder().Encode("d1", TelemetryStream.Telemetry, boot, events, t0);
        var log = Microsoft.Extensions.Logging.Abstractions.NullLogger<EdgeAgent.Hub.Ingestion.TelemetryIngestor>.Instance;

        var first = new EdgeAgent.Hub.Ingestion.TelemetryIngestor(store, TimeProvider.System, log);
        var stored = await first.IngestAsync("edgeagent/v1/d1/telemetry", batch.Payload, default);
        Assert.Equal(20, stored.Inserted);
        Assert.Equal((boot, "telemetry", 1L, 20L), (stored.Ack!.BootId, stored.Ack.Stream, stored.Ack.Ranges[0][0], stored.Ack.Ranges[0][1])); // end-to-end ack after the commit
        // A new instance has an empty dedup window: the store's key is what keeps exactly-once.
        var second = new EdgeAgent.Hub.Ingestion.TelemetryIngestor(store, TimeProvider.System, log);
        var again = await second.IngestAsync("edgeagent/v1/d1/telemetry", batch.Payload, default);
        Assert.Equal((20, 0), (again.Accepted, again.Inserted));
        Assert.Equal(stored.Ack.Ranges, again.Ack!.Ranges); // held already: acknowledged again, so the device stops resending
        Assert.Equal(20, await store.CountEventsAsync("d1"));
    }

    [Fact]
    public async Task A_batch_on_the_wrong_topic_for_its_stream_is_parked()
    {
        await using var store = await _stores.CreateAsync();
        var t0 = new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
        var batch = new TelemetryBatchEncoder().Encode("d1", TelemetryStream.Telemetry, new string('f', 32),
            [new WireEvent(1, t0, 0, TelemetryEventKind.Data, "{}"u8.ToArray(), true)], t0);
        var ingestor = new EdgeAgent.Hub.Ingestion.TelemetryIngestor(store, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<EdgeAgent.Hub.Ingestion.TelemetryIngestor>.Instance);
        var r = await ingestor.IngestAsync("edgeagent/v1/d1/drift", batch.Payload, default);
        Assert.Contains("belongs on edgeagent/v1/d1/telemetry", r.Rejected);
        Assert.Null(r.Ack); // parked, not stored: the device keeps it
        Assert.Equal(0, await store.CountEventsAsync());
        Assert.Single(await store.ListRejectedMessagesAsync(10));
    }
}
