using System.Data.Common;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using Xunit;

namespace EdgeAgent.Hub.Tests.Storage;

/// <summary>The storage suite: every <see cref="IHubStore"/> must pass it (SQLite and PostgreSQL below).</summary>
public abstract class HubStoreContract<TFactory>(TFactory factory) where TFactory : IStoreFactory
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private const string Boot = "0123456789abcdef0123456789abcdef";

    private static StoredEvent Event(string device, long seq, string boot = Boot, DateTimeOffset? ts = null) =>
        new(device, boot, seq, "telemetry", "data", ts ?? T0.AddSeconds(seq), 0, $$"""{"n":{{seq}}}""", null);

    [Fact]
    public async Task A_hard_case_the_cloud_could_not_answer_is_kept_with_its_error_and_no_cloud_confidence()
    {
        await using var store = await factory.CreateAsync();
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        await store.RecordHardCaseAsync(new HardCaseRecord(0, at, "dev-1", "activity", 7, at, "low-confidence", "walk", 0.41,
            null, null, null, "model activity-cloud unknown", "{}"));
        await store.RecordHardCaseAsync(new HardCaseRecord(0, at.AddSeconds(1), "dev-1", "activity", 8, at, "low-confidence", "idle", 0.52,
            "run", 0.93, "activity-cloud@1", null, "{}"));
        var cases = await store.ListHardCasesAsync("dev-1", 10);
        var failed = Assert.Single(cases, c => c.Window == 7);
        Assert.Equal(("model activity-cloud unknown", (double?)null, (string?)null), (failed.Error, failed.CloudConfidence, failed.CloudLabel));
        Assert.Equal(0.93, Assert.Single(cases, c => c.Window == 8).CloudConfidence);
    }

    [Fact]
    public async Task Migrations_are_recorded_and_running_them_again_changes_nothing()
    {
        await using var store = await factory.CreateAsync();
        var versions = await store.AppliedMigrationsAsync();
        Assert.Equal(SchemaMigrations.For(store.Kind).Select(m => m.Version), versions);
        Assert.Empty(await store.MigrateAsync());
        Assert.Equal(versions, await store.AppliedMigrationsAsync());
    }

    [Fact]
    public async Task Concurrent_migrations_apply_each_version_once()
    {
        await using var store = await factory.CreateAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.MigrateAsync()));
        Assert.All(results, Assert.Empty);
        Assert.Equal(SchemaMigrations.For(store.Kind).Count, (await store.AppliedMigrationsAsync()).Count);
    }

    [Fact]
    public async Task A_redelivered_batch_is_stored_exactly_once()
    {
        await using var store = await factory.CreateAsync();
        var batch = Enumerable.Range(1, 50).Select(i => Event("d1", i)).ToList();
        Assert.Equal(50, (await store.StoreTelemetryAsync(batch, [])).Inserted);
        // Redelivery, partly overlapping and out of order.
        var again = Enumerable.Range(40, 20).Reverse().Select(i => Event("d1", i)).ToList();
        Assert.Equal(9, (await store.StoreTelemetryAsync(again, [])).Inserted);
        Assert.Equal(59, await store.CountEventsAsync("d1"));
        var events = await store.ListEventsAsync("d1", 1000);
        Assert.Equal(Enumerable.Range(1, 59).Select(i => (long)i), events.Select(e => e.Seq));
        Assert.Equal("""{"n":7}""", events[6].Data!.Replace(" ", ""));
    }

    [Fact]
    public async Task The_same_seq_under_another_boot_or_device_is_a_different_event()
    {
        await using var store = await factory.CreateAsync();
        await store.StoreTelemetryAsync([Event("d1", 1), Event("d1", 1, "ffffffffffffffffffffffffffffffff"), Event("d2", 1)], []);
        Assert.Equal(3, await store.CountEventsAsync());
    }

    [Fact]
    public async Task Binary_payloads_and_gaps_round_trip_and_a_gap_is_recorded_once()
    {
        await using var store = await factory.CreateAsync();
        var bin = new StoredEvent("d1", Boot, 5, "drift", "data", T0, 255, null, [1, 2, 3, 0, 255]);
        var gap = new TelemetryGap("d1", Boot, "telemetry", 10, 20, 7, "disk budget exceeded", T0);
        Assert.Equal(new TelemetryWriteResult(1, 1), await store.StoreTelemetryAsync([bin], [gap]));
        Assert.Equal(new TelemetryWriteResult(0, 0), await store.StoreTelemetryAsync([bin], [gap]));
        var stored = Assert.Single(await store.ListEventsAsync("d1", 10));
        Assert.Equal(new byte[] { 1, 2, 3, 0, 255 }, stored.Bin);
        Assert.Null(stored.Data);
        Assert.Equal(255, stored.Prio);
        var g = Assert.Single(await store.ListGapsAsync("d1"));
        Assert.Equal((10L, 20L, 7L, "disk budget exceeded"), (g.FromSeq, g.ToSeq, g.Count, g.Reason));
    }

    [Fact]
    public async Task Retention_deletes_only_what_is_older_than_the_cutoff()
    {
        await using var store = await factory.CreateAsync();
        await store.StoreTelemetryAsync([Event("d1", 1, ts: T0.AddDays(-40)), Event("d1", 2, ts: T0.AddDays(-31)), Event("d1", 3, ts: T0.AddDays(-1))], []);
        await store.StoreDriftWindowsAsync([new DriftWindowRecord("d1", Boot, 9, "m", "1", "x", DateOnly.FromDateTime(T0.AddDays(-40).UtcDateTime), [1])]);
        Assert.Equal(2, await store.DeleteTelemetryBeforeAsync(T0.AddDays(-30)));
        Assert.Equal([3L], (await store.ListEventsAsync("d1", 10)).Select(e => e.Seq));
        Assert.Empty(await store.ListDriftWindowsAsync("m", "1", DateOnly.FromDateTime(T0.AddDays(-40).UtcDateTime)));
    }

    [Fact]
    public async Task The_audit_log_refuses_update_and_delete()
    {
        await using var store = await factory.CreateAsync();
        await store.AppendAuditAsync(new AuditEntry(0, T0, "alice (tok_1)", "POST /api/v1/devices", "d1", 201, null));
        await store.AppendAuditAsync(new AuditEntry(0, T0.AddSeconds(1), "bob (tok_2)", "DELETE /api/v1/devices/d1", "d1", 204, "gone"));
        var log = await store.ListAuditAsync(10);
        Assert.Equal(["bob (tok_2)", "alice (tok_1)"], log.Select(a => a.Actor));
        Assert.Equal(("d1", 204, "gone"), (log[0].Target, log[0].Status, log[0].Detail));

        // The interface has no update/delete path; the schema refuses them too, even through raw SQL.
        var update = await Assert.ThrowsAnyAsync<DbException>(() => RawExecAsync(store, "UPDATE audit_log SET actor = 'mallory'"));
        Assert.Contains("append-only", update.Message);
        var delete = await Assert.ThrowsAnyAsync<DbException>(() => RawExecAsync(store, "DELETE FROM audit_log"));
        Assert.Contains("append-only", delete.Message);
        Assert.Equal(2, (await store.ListAuditAsync(10)).Count);
        Assert.Equal("alice (tok_1)", (await store.ListAuditAsync(10))[1].Actor);
    }

    [Fact]
    public async Task Tokens_are_found_by_hash_only()
    {
        await using var store = await factory.CreateAsync();
        await store.CreateTokenAsync(new ApiTokenRecord("tok_a", "ci", HubRole.Operator, "abc123", T0));
        var found = await store.FindTokenByHashAsync("abc123");
        Assert.Equal(("tok_a", "ci", HubRole.Operator), (found!.Id, found.Name, found.Role));
        Assert.Null(await store.FindTokenByHashAsync("abc124"));
        Assert.Single(await store.ListTokensAsync());
    }

    [Fact]
    public async Task Devices_keep_labels_and_take_status_reports_even_before_registration()
    {
        await using var store = await factory.CreateAsync();
        Assert.True(await store.CreateDeviceAsync("press-17", new Dictionary<string, string> { ["site"] = "lyon", ["line"] = "2" }, T0));
        Assert.False(await store.CreateDeviceAsync("press-17", new Dictionary<string, string>(), T0));
        Assert.True(await store.SetDeviceLabelsAsync("press-17", new Dictionary<string, string> { ["site"] = "turin" }));
        Assert.False(await store.SetDeviceLabelsAsync("nope", new Dictionary<string, string>()));

        await store.RecordDeviceStatusAsync("press-17", new DeviceStatusReport(true, "0.1.0", "vib@3", "idle", "ok", """{"online":true}""", T0.AddMinutes(1)));
        await store.RecordDeviceStatusAsync("press-99", new DeviceStatusReport(false, null, null, null, null, """{"online":false}""", T0.AddMinutes(1)));
        // An older report (a replayed retained message) does not overwrite a newer one.
        await store.RecordDeviceStatusAsync("press-17", new DeviceStatusReport(false, "0.0.9", null, null, null, """{"online":false}""", T0));

        var d = (await store.GetDeviceAsync("press-17"))!;
        Assert.Equal(("turin", true, "0.1.0", "vib@3", "idle", "ok"), (d.Labels["site"], d.Online, d.AgentVersion, d.ActiveModel, d.UpdateState, d.Health));
        Assert.Single(d.Labels);
        Assert.Equal(false, (await store.GetDeviceAsync("press-99"))!.Online);
        Assert.Equal(["press-17", "press-99"], (await store.ListDevicesAsync()).Select(x => x.Id));
        Assert.True(await store.DeleteDeviceAsync("press-99"));
        Assert.Null(await store.GetDeviceAsync("press-99"));
    }

    [Fact]
    public async Task Drift_windows_are_stored_once_and_listed_per_model_version_and_day()
    {
        await using var store = await factory.CreateAsync();
        var day = new DateOnly(2026, 11, 20);
        var w1 = new DriftWindowRecord("d1", Boot, 1, "vib", "3", "x0", day, [1, 2]);
        var w2 = new DriftWindowRecord("d2", Boot, 1, "vib", "3", "x0", day, [3]);
        var other = new DriftWindowRecord("d2", Boot, 2, "vib", "4", "x0", day, [4]);
        Assert.Equal(3, await store.StoreDriftWindowsAsync([w1, w2, other]));
        Assert.Equal(0, await store.StoreDriftWindowsAsync([w1]));
        var listed = await store.ListDriftWindowsAsync("vib", "3", day);
        Assert.Equal(["d1", "d2"], listed.Select(w => w.DeviceId));
        Assert.Equal(new byte[] { 1, 2 }, listed[0].Sketch);
        Assert.Empty(await store.ListDriftWindowsAsync("vib", "3", day.AddDays(1)));
    }

    [Fact]
    public async Task Models_are_immutable_per_version()
    {
        await using var store = await factory.CreateAsync();
        var m = new ModelRecord("vib", "1.0.0", 3, "aa", "input x [1,64] float32", "{}"u8.ToArray(), null, "alice", T0);
        await store.RegisterModelAsync(m, [1, 2, 3], [7, 7]);
        var e = await Assert.ThrowsAsync<HubStoreException>(() => store.RegisterModelAsync(m with { Sha256 = "bb" }, [9], null));
        Assert.Contains("already registered", e.Message);
        Assert.Equal("aa", (await store.GetModelAsync("vib", "1.0.0"))!.Sha256);
        Assert.Equal(new byte[] { 1, 2, 3 }, await store.GetModelOnnxAsync("vib", "1.0.0"));
        Assert.Equal(new byte[] { 7, 7 }, await store.GetModelBundleAsync("vib", "1.0.0"));
        Assert.Null(await store.GetModelBundleAsync("vib", "9"));
        Assert.Single(await store.ListModelsAsync());
    }

    [Fact]
    public async Task Rejected_messages_are_kept_with_their_payload()
    {
        await using var store = await factory.CreateAsync();
        await store.RecordRejectedMessageAsync("edgeagent/v1/d1/telemetry", "not JSON", new byte[] { 0x7B, 0x00 }, T0);
        var r = Assert.Single(await store.ListRejectedMessagesAsync(10));
        Assert.Equal(("edgeagent/v1/d1/telemetry", "not JSON"), (r.Topic, r.Reason));
        Assert.Equal(new byte[] { 0x7B, 0x00 }, r.Payload);
    }

    private static Task RawExecAsync(IHubStore store, string sql) => ((SqlHubStore)store).ExecuteRawForTestsAsync(sql);
}

public sealed class SqliteHubStoreTests(SqliteStoreFactory factory)
    : HubStoreContract<SqliteStoreFactory>(factory), IClassFixture<SqliteStoreFactory>;

public sealed class PostgresHubStoreTests(PostgresStoreFactory factory)
    : HubStoreContract<PostgresStoreFactory>(factory), IClassFixture<PostgresStoreFactory>;
