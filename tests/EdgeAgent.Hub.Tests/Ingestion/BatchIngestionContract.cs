using System.Text;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Updates.Events;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace EdgeAgent.Hub.Tests.Ingestion;

/// <summary>
/// <see cref="TelemetryIngestor.IngestBatchAsync"/> on a real store: several MQTT messages, one transaction, one
/// result (and end-to-end ack) per message. The same contract runs on SQLite and on a real PostgreSQL.
/// </summary>
public abstract class BatchIngestionContract<TFactory>(TFactory factory) where TFactory : IStoreFactory
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private static readonly string BootA = new('a', 32);
    private static readonly string BootB = new('b', 32);

    private static TelemetryIngestor Ingestor(IHubStore store) => new(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);

    private static WireEvent Data(long seq) =>
        new(seq, T0.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes($$"""{"model":"vib","score":{{seq}}}"""), true);

    private static (string Topic, ReadOnlyMemory<byte> Payload) Message(string device, TelemetryStream stream, string boot, IReadOnlyList<WireEvent> events) =>
        (TelemetryStreams.Topic(device, stream), new TelemetryBatchEncoder().Encode(device, stream, boot, events, T0).Payload);

    private static WireEvent DriftWindow(long seq, string feature)
    {
        var sketch = new KllFloatsSketch();
        for (int i = 0; i < 500; i++) sketch.Update(i / 50f);
        return new WireEvent(seq, T0, 0, TelemetryEventKind.Data, sketch.ToByteArray(), false, $"vib-mlp@1.0.0/{feature}");
    }

    /// <summary>Two devices, every stream, a malformed message and a repeat of an earlier message, in one batch.</summary>
    private static List<(string Topic, ReadOnlyMemory<byte> Payload)> MixedBatch() =>
    [
        Message("dev-a", TelemetryStream.Telemetry, BootA, [Data(1), Data(2), Data(3)]),
        Message("dev-b", TelemetryStream.Telemetry, BootB, [Data(1), Data(2)]),
        Message("dev-a", TelemetryStream.Drift, BootA, [DriftWindow(4, "x0"), DriftWindow(5, "x1")]),
        Message("dev-b", TelemetryStream.Update, BootB,
            [new WireEvent(10, T0, 0, TelemetryEventKind.Data, new UpdateEvent("vib", "2.0.0", 2, "idle", "downloading", null, null, T0).ToJson(), true)]),
        ("edgeagent/v1/dev-a/telemetry", "{not json"u8.ToArray()),
        Message("dev-a", TelemetryStream.Telemetry, BootA, [Data(1), Data(2), Data(3)]), // the device resent it before its ack came
        Message("dev-b", TelemetryStream.Telemetry, BootB, [Data(2), Data(3)]),           // overlaps the earlier one
    ];

    [Fact]
    public async Task One_batch_of_two_devices_and_every_stream_stores_each_event_once_parks_the_malformed_message_and_acks_each_stored_one()
    {
        await using var store = await factory.CreateAsync();
        var results = await Ingestor(store).IngestBatchAsync(MixedBatch(), default);

        Assert.Equal(7, results.Count);
        Assert.Equal((3, 3, 0), (results[0].Accepted, results[0].Inserted, results[0].Duplicates));
        Assert.Equal((2, 2, 0), (results[1].Accepted, results[1].Inserted, results[1].Duplicates));
        Assert.Equal((2, 2, 2), (results[2].Accepted, results[2].Inserted, results[2].DriftWindows));
        Assert.Equal((1, 1), (results[3].Accepted, results[3].Inserted));
        Assert.Contains("not valid batch JSON", results[4].Rejected);
        Assert.Null(results[4].Ack); // parked: the device keeps it
        Assert.Equal((0, 0, 3), (results[5].Accepted, results[5].Inserted, results[5].Duplicates));
        Assert.Equal((1, 1, 1), (results[6].Accepted, results[6].Inserted, results[6].Duplicates));

        // Every stored (or already held) message is acknowledged with its own range.
        Assert.Equal(
            [("telemetry", BootA, 1L, 3L), ("telemetry", BootB, 1L, 2L), ("drift", BootA, 4L, 5L), ("update", BootB, 10L, 10L), ("telemetry", BootA, 1L, 3L), ("telemetry", BootB, 2L, 3L)],
            results.Where(r => r.Ack is not null).Select(r => (r.Ack!.Stream, r.Ack.BootId, r.Ack.Ranges[0][0], r.Ack.Ranges[^1][1])));
        Assert.All(results.Where((_, i) => i != 4), r => Assert.Null(r.Rejected));

        Assert.Equal([1L, 2L, 3L, 4L, 5L], (await store.ListEventsAsync("dev-a", 100)).Select(e => e.Seq)); // telemetry 1-3, drift 4-5
        Assert.Equal(4, await store.CountEventsAsync("dev-b"));
        Assert.Equal(2, (await store.ListDriftWindowsAsync("vib-mlp", "1.0.0", DateOnly.FromDateTime(T0.UtcDateTime))).Count);
        Assert.Equal("downloading", Assert.Single(await store.ListDeviceUpdatesAsync("dev-b", 10)).To);
        var parked = Assert.Single(await store.ListRejectedMessagesAsync(10));
        Assert.Equal(("edgeagent/v1/dev-a/telemetry", "{not json"), (parked.Topic, Encoding.UTF8.GetString(parked.Payload)));
    }

    [Fact]
    public async Task A_store_failure_mid_batch_stores_and_parks_nothing_and_the_redelivered_batch_is_then_stored_exactly_once()
    {
        await using var store = await factory.CreateAsync();
        var sql = (SqlHubStore)store;
        var ingestor = Ingestor(store);
        // Injected fault: the events of the batch go in first, then the drift windows' table is missing.
        await sql.ExecuteRawForTestsAsync("ALTER TABLE drift_windows RENAME TO drift_windows_away");
        var batch = MixedBatch();
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ingestor.IngestBatchAsync(batch, default));

        Assert.Equal(0, await store.CountEventsAsync());                  // rolled back as a whole
        Assert.Empty(await store.ListRejectedMessagesAsync(10));          // the malformed one is not parked yet either
        Assert.Empty(await store.ListDeviceUpdatesAsync("dev-b", 10));

        await sql.ExecuteRawForTestsAsync("ALTER TABLE drift_windows_away RENAME TO drift_windows");
        var results = await ingestor.IngestBatchAsync(batch, default);   // the broker's redelivery of the unacknowledged batch
        Assert.Equal([3, 2, 2, 1, 0, 0, 1], results.Select(r => r.Inserted)); // the dedup window was reset with the failure
        Assert.Equal(9, await store.CountEventsAsync());
        Assert.Single(await store.ListRejectedMessagesAsync(10));

        var again = await Ingestor(store).IngestBatchAsync(batch, default); // another instance gets it once more
        Assert.All(again, r => Assert.Equal(0, r.Inserted));
        Assert.Equal(9, await store.CountEventsAsync());
        Assert.Equal(2, (await store.ListRejectedMessagesAsync(10)).Count); // each delivery of a bad message is parked (as before batching)
    }

    [Fact]
    public async Task A_single_message_is_a_batch_of_one_with_the_same_result()
    {
        await using var store = await factory.CreateAsync();
        var (topic, payload) = Message("dev-c", TelemetryStream.Telemetry, BootA, [Data(5), Data(6)]);
        var one = await Ingestor(store).IngestAsync(topic, payload, default);
        Assert.Equal((2, 2, "telemetry", 5L, 6L), (one.Accepted, one.Inserted, one.Ack!.Stream, one.Ack.Ranges[0][0], one.Ack.Ranges[^1][1]));
        Assert.Empty(await Ingestor(store).IngestBatchAsync([], default));
    }
}

public sealed class SqliteBatchIngestionTests(SqliteStoreFactory factory)
    : BatchIngestionContract<SqliteStoreFactory>(factory), IClassFixture<SqliteStoreFactory>;

public sealed class PostgresBatchIngestionTests(PostgresStoreFactory factory)
    : BatchIngestionContract<PostgresStoreFactory>(factory), IClassFixture<PostgresStoreFactory>;
