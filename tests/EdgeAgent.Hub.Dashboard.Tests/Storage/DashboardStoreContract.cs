using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Storage;

/// <summary>The dashboard's aggregate queries, run against both stores (their JSON SQL differs per dialect).</summary>
public abstract class DashboardStoreContract(IStoreFactory stores)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    private static StoredEvent Event(string device, long seq, DateTimeOffset ts, string? data, string stream = "telemetry", string kind = "data") =>
        new(device, "b0", seq, stream, kind, ts, 0, data, data is null ? [1, 2, 3] : null);

    [Fact]
    public async Task Fleet_counts_split_devices_by_state_and_leave_revoked_ones_out_of_the_breakdowns()
    {
        await using var store = await stores.CreateAsync();
        await store.CreateDeviceAsync("never", new Dictionary<string, string>(), T0);
        await store.RecordDeviceStatusAsync("on-1", new DeviceStatusReport(true, "1.0", "m@1", null, "ok", "{}", T0));
        await store.RecordDeviceStatusAsync("on-2", new DeviceStatusReport(true, "1.0", "m@1", null, "ok", "{}", T0));
        await store.RecordDeviceStatusAsync("off", new DeviceStatusReport(false, "0.9", "m@1", null, "degraded", "{}", T0));
        await store.RecordDeviceStatusAsync("gone", new DeviceStatusReport(true, "0.1", "m@0", null, "ok", "{}", T0));
        await store.SetDeviceRevokedAsync("gone", T0);

        var c = await store.CountFleetAsync();
        Assert.Equal((5L, 2L, 1L, 1L, 1L), (c.Registered, c.Online, c.Offline, c.Unknown, c.Revoked));
        Assert.Equal([new KeyCount("1.0", 2), new KeyCount("0.9", 1), new KeyCount(null, 1)], c.ByAgentVersion.OrderByDescending(k => k.Count).ThenBy(k => k.Key ?? "~").ToList());
        Assert.Equal(3, c.ByActiveModel.Single(k => k.Key == "m@1").Count);
        Assert.DoesNotContain(c.ByActiveModel, k => k.Key == "m@0");
    }

    [Fact]
    public async Task Prediction_samples_read_the_pipeline_fields_and_skip_events_that_are_not_predictions()
    {
        await using var store = await stores.CreateAsync();
        await store.StoreTelemetryAsync(
        [
            Event("d1", 1, T0, """{"model":"m@1","decidedBy":"local","inferenceUs":150,"latencyUs":420.5,"confidence":0.93}"""),
            Event("d1", 2, T0.AddMinutes(1), """{"model":"m@1","decidedBy":"fallback","inferenceUs":"fast","confidence":0.4}"""),
            Event("d2", 1, T0.AddMinutes(2), """{"decidedBy":"cloud","latencyUs":25000}"""),
            Event("d1", 3, T0.AddMinutes(3), """{"label":"x"}"""),                // not a prediction
            Event("d1", 4, T0.AddMinutes(4), """[1,2,3]"""),                      // JSON, but not an object
            Event("d1", 5, T0.AddMinutes(5), """{"decidedBy":7}"""),              // decidedBy not a string
            Event("d1", 10, T0.AddMinutes(5), """{"decidedBy":"elsewhere"}"""),   // not a decider the pipeline writes
            Event("d1", 11, T0.AddMinutes(5), """{"decidedBy":{"by":"local"}}"""),
            Event("d1", 6, T0.AddMinutes(6), """{"decidedBy":"local"}""", kind: "notice"),
            Event("d1", 7, T0.AddMinutes(7), """{"decidedBy":"local"}""", stream: "fallback-case"),
            Event("d1", 8, T0.AddMinutes(8), null, stream: "drift"),
            Event("d1", 9, T0.AddHours(-2), """{"decidedBy":"local"}"""),          // before the range
        ], []);

        var all = await store.ListPredictionSamplesAsync(T0, null, 100);
        Assert.Equal([("d2", "cloud"), ("d1", "fallback"), ("d1", "local")], all.Select(s => (s.DeviceId, s.DecidedBy)).ToList());
        var first = all.Single(s => s.DecidedBy == "local");
        Assert.Equal(("m@1", 150.0, 420.5, 0.93), (first.Model, first.InferenceUs, first.LatencyUs, first.Confidence));
        Assert.Equal(T0, first.Ts);
        var fallback = all.Single(s => s.DecidedBy == "fallback");
        Assert.Null(fallback.InferenceUs); // "fast" is not a number
        Assert.Null(all.Single(s => s.DecidedBy == "cloud").Model);

        Assert.Equal(2, (await store.ListPredictionSamplesAsync(T0, "d1", 100)).Count);
        Assert.Single(await store.ListPredictionSamplesAsync(T0, null, 1)); // newest only
    }

    [Fact]
    public async Task Ingest_counts_activity_and_drift_series_come_from_the_stored_rows()
    {
        await using var store = await stores.CreateAsync();
        await store.StoreTelemetryAsync([Event("d1", 1, T0, "{}"), Event("d1", 2, T0.AddMinutes(5), "{}"), Event("d2", 1, T0, null, stream: "drift")],
            [new TelemetryGap("d1", "b0", "telemetry", 10, 19, 7, "disk budget", T0), new TelemetryGap("d2", "b0", "telemetry", 1, 4, 4, "disk budget", T0)]);
        await store.RecordRejectedMessageAsync("edgeagent/v1/x/telemetry", "bad", new byte[] { 1 }, T0);
        await store.RecordHardCaseAsync(new HardCaseRecord(0, T0, "d1", "m", 1, T0, "low-confidence", "a", 0.4, "b", 0.9, "m@1", null, "{}"));
        // CloudConfidence 0 rather than null: SqlHubStore.RecordHardCaseAsync binds a null double as text, which
        // PostgreSQL refuses (reported to the hub's owner); the count depends only on 'error'.
        await store.RecordHardCaseAsync(new HardCaseRecord(0, T0, "d1", "m", 2, T0, "low-confidence", "a", 0.4, null, 0, null, "model m unknown", "{}"));
        var sketch = new EdgeAgent.Sketches.Kll.KllFloatsSketch();
        sketch.Update(1f);
        var day = DateOnly.FromDateTime(T0.UtcDateTime);
        await store.StoreDriftWindowsAsync(
        [
            new DriftWindowRecord("d1", "b0", 3, "m", "1", "x0", day, sketch.ToByteArray()),
            new DriftWindowRecord("d1", "b0", 4, "m", "1", "x0", day.AddDays(-1), sketch.ToByteArray()),
            new DriftWindowRecord("d2", "b0", 5, "m", "1", "x1", day, sketch.ToByteArray()),
        ]);

        var i = await store.CountIngestAsync();
        Assert.Equal([new KeyCount("drift", 1), new KeyCount("telemetry", 2)], i.EventsByStream.ToList());
        Assert.Equal((1L, 2L, 11L, 1L, 1L), (i.RejectedMessages, i.Gaps, i.GapEvents, i.HardCasesAnswered, i.HardCasesFailed));

        var activity = (await store.ListDeviceActivityAsync()).ToDictionary(a => a.DeviceId);
        Assert.Equal((2L, T0.AddMinutes(5)), (activity["d1"].Events, activity["d1"].LastEventAt));
        Assert.NotNull(activity["d1"].LastReceivedAt);

        var series = Assert.Single(await store.ListDriftSeriesAsync());
        Assert.Equal(("m", "1", day, 2, 3L), (series.Model, series.ModelVersion, series.LatestDay, series.Days, series.Windows));
        Assert.Equal([day, day.AddDays(-1)], await store.ListDriftDaysAsync("m", "1", 10));
        Assert.Equal([day], await store.ListDriftDaysAsync("m", "1", 1));
    }

    [Fact]
    public async Task An_empty_store_gives_zeros_not_errors()
    {
        await using var store = await stores.CreateAsync();
        var c = await store.CountFleetAsync();
        Assert.Equal(0, c.Registered);
        var i = await store.CountIngestAsync();
        Assert.Equal((0L, 0L, 0L), (i.RejectedMessages, i.Gaps, i.GapEvents));
        Assert.Empty(await store.ListPredictionSamplesAsync(T0, null, 10));
        Assert.Empty(await store.ListDriftSeriesAsync());
    }
}

public sealed class SqliteDashboardStoreTests(SqliteStoreFactory stores) : DashboardStoreContract(stores), IClassFixture<SqliteStoreFactory>;

public sealed class PostgresDashboardStoreTests(PostgresStoreFactory stores) : DashboardStoreContract(stores), IClassFixture<PostgresStoreFactory>;
