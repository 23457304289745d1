using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using Xunit;
using static EdgeAgent.Hub.Tests.Rollouts.RolloutSetup;

namespace EdgeAgent.Hub.Tests.Rollouts;

/// <summary>
/// The rollout state machine against a real store (SQLite and PostgreSQL below): devices report through
/// real update/telemetry/drift batches into the real ingestor; the clock is moved by hand.
/// </summary>
public abstract class RolloutEngineContract<TFactory>(TFactory factory) where TFactory : IStoreFactory
{
    private const string Family = "vib";
    private static readonly Dictionary<string, string> Site = new() { ["site"] = "north" };

    private sealed record World(IHubStore Store, ManualTime Time, AssignmentRecorder Publisher, RolloutEngine Engine, RolloutService Service,
        FleetReports Fleet, IReadOnlyList<string> Cohort) : IAsyncDisposable
    {
        public async Task<RolloutRecord> RolloutAsync(string id) => (await Store.GetRolloutAsync(id))!;

        public async Task<IReadOnlyList<string>> MovedAsync(string id) => (await Store.ListRolloutDevicesAsync(id)).Select(d => d.DeviceId).ToList();

        public ValueTask DisposeAsync() => Store.DisposeAsync();
    }

    /// <summary>20 devices labelled site=north (all running vib 1.0.0, assigned by an earlier release) and 5 elsewhere.</summary>
    private async Task<World> WorldAsync(RolloutThresholds? thresholds = null, RolloutEngine? engine = null)
    {
        var store = await factory.CreateAsync();
        var time = new ManualTime(T0);
        var publisher = new AssignmentRecorder();
        await RegisterReleaseAsync(store, Family, "1.0.0", 1);
        await RegisterReleaseAsync(store, Family, "2.0.0", 2, FleetReports.Reference("x0"));
        var cohort = await DevicesAsync(store, "north", 20, Site);
        await DevicesAsync(store, "south", 5, new Dictionary<string, string> { ["site"] = "south" });
        foreach (var d in cohort) publisher.Seed(d, Family, "models/vib/1.0.0.bundle");
        var signal = new RolloutSignal();
        return new World(store, time, publisher, engine ?? Engine(store, time, publisher, signal), new RolloutService(store, time, signal, requirePublishedRelease: false),
            new FleetReports(store, time, signal), cohort);
    }

    private static CreateRolloutRequest Request(RolloutThresholds? thresholds = null, string id = "r1") =>
        new(Family, "2.0.0", Site, [new(10, 300, 2), new(50, 300, 5), new(100, 300, 10)], thresholds ?? new RolloutThresholds { MinPredictions = 50 }, id);

    [Fact]
    public async Task A_download_that_arrived_corrupted_is_not_a_verdict_on_the_release_the_device_retries_and_the_rollout_completes()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(new(Family, "2.0.0", Site, [new(100, 0, 1)], new RolloutThresholds { MinPredictions = 50, MaxRefusalRatio = 0.2 }, "r1"), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var all = await w.MovedAsync("r1");

        // A corrupting mirror: the first reports are all target-hash refusals (1 of 1, 5 of 5 — far above 20 %).
        for (int i = 0; i < 5; i++)
            await w.Fleet.UpdateAsync(all[i], Family, "2.0.0", 2, "refused", "the downloaded bundle does not match the signed TUF metadata", "TargetHash");
        await w.Fleet.UpdateAsync(all[5], Family, "2.0.0", 2, "refused", "download failed: connection reset", "Download");
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Running, (await w.RolloutAsync("r1")).State);
        var view = await new RolloutInspector(w.Store, w.Time).DescribeAsync("r1", default);
        Assert.Equal(6, view!.DeviceStates["retrying"]);
        Assert.DoesNotContain("refused", view.DeviceStates.Keys);

        // The mirror heals: every device commits, the rollout completes.
        foreach (var d in all) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Completed, (await w.RolloutAsync("r1")).State);

        // A refusal of the release itself (its golden vectors) still counts against it.
        await using var v = await WorldAsync();
        await v.Service.CreateAsync(new(Family, "2.0.0", Site, [new(100, 0, 1)], new RolloutThresholds { MinPredictions = 50, MaxRefusalRatio = 0.2 }, "r2"), "alice", default);
        await v.Engine.EvaluateAllAsync(default);
        var moved = await v.MovedAsync("r2");
        await v.Fleet.UpdateAsync(moved[0], Family, "2.0.0", 2, "refused", "golden vector 3 differs", "GoldenVector");
        await v.Engine.EvaluateAllAsync(default);
        var state = (await v.RolloutAsync("r2")).State;
        Assert.True(state is RolloutState.Halted or RolloutState.RolledBack, $"a golden-vector refusal left the rollout {state}");
    }

    [Fact]
    public async Task The_last_step_completes_only_when_every_assigned_device_has_an_outcome_not_at_its_minimum()
    {
        await using var w = await WorldAsync();
        var thresholds = new RolloutThresholds { MinPredictions = 50, MaxRefusalRatio = 0.2 };
        await w.Service.CreateAsync(new(Family, "2.0.0", Site, [new(100, 0, 1)], thresholds, "r1"), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var all = await w.MovedAsync("r1");
        Assert.Equal(20, all.Count);

        // Far more than the minimum (1) committed, one refused (1 of 9 reporting, under the 20 % limit), six still
        // observing, five silent: not completed.
        for (int i = 0; i < 8; i++) await w.Fleet.UpdateAsync(all[i], Family, "2.0.0", 2, "committed");
        await w.Fleet.UpdateAsync(all[8], Family, "2.0.0", 2, "refused", "release 2.0.0: not enough disk", "DiskSpace");
        for (int i = 9; i < 15; i++) await w.Fleet.UpdateAsync(all[i], Family, "2.0.0", 2, "observing");
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.Running, r.State);
        var view = await new RolloutInspector(w.Store, w.Time).DescribeAsync("r1", default);
        Assert.Equal("11 of 20 device(s) still updating or not reported yet (8 committed)", view!.WaitingFor);

        // Every device has an outcome (the refusal stays under 20 %): completed.
        for (int i = 9; i < all.Count; i++) await w.Fleet.UpdateAsync(all[i], Family, "2.0.0", 2, "committed");
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Completed, (await w.RolloutAsync("r1")).State);
    }

    [Fact]
    public async Task Steps_advance_only_after_their_devices_commit_and_the_bake_time_passes_and_the_cohort_is_respected()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var first = await w.MovedAsync("r1");
        Assert.Equal(2, first.Count); // 10 % of 20
        Assert.All(first, d => Assert.Equal("models/vib/2.0.0.bundle", w.Publisher.Target(d, Family)));
        Assert.All(first, d => Assert.StartsWith("north-", d));

        // Baked but nobody committed: the step waits.
        w.Time.Advance(TimeSpan.FromMinutes(10));
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(0, (await w.RolloutAsync("r1")).StepIndex);

        foreach (var d in first) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(1, r.StepIndex);
        Assert.Equal(10, (await w.MovedAsync("r1")).Count); // 50 %: the next 8 assigned in the same evaluation

        // Committed but not baked: the step waits for its bake time.
        foreach (var d in await w.MovedAsync("r1")) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(1, (await w.RolloutAsync("r1")).StepIndex);
        w.Time.Advance(TimeSpan.FromSeconds(301));
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(2, (await w.RolloutAsync("r1")).StepIndex);

        var all = await w.MovedAsync("r1");
        Assert.Equal(w.Cohort.Order(StringComparer.Ordinal), all.Order(StringComparer.Ordinal));
        foreach (var d in all) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        w.Time.Advance(TimeSpan.FromSeconds(301));
        await w.Engine.EvaluateAllAsync(default);
        r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.Completed, r.State);
        Assert.NotNull(r.FinishedAt);
        Assert.DoesNotContain(w.Publisher.PublishCounts.Keys, d => d.StartsWith("south-", StringComparison.Ordinal));
        Assert.All(w.Publisher.PublishCounts.Values, n => Assert.Equal(1, n)); // each device assigned once
        var history = (await w.Store.ListRolloutEventsAsync("r1")).Select(e => e.Action).ToList();
        Assert.Equal(["created", "assigned", "step", "assigned", "step", "assigned", "completed"], history);
        Assert.Equal(2, await w.Store.CurrentReleaseCounterAsync(Family));
    }

    [Fact]
    public async Task Devices_refusing_the_release_halt_the_rollout_and_their_previous_release_is_assigned_back()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var moved = await w.MovedAsync("r1");
        await w.Fleet.UpdateAsync(moved[0], Family, "2.0.0", 2, "refused", "release 2.0.0: golden vector 3 differs by 0.41 (tolerance 0.05)", "GoldenVector");
        await w.Engine.EvaluateAllAsync(default);

        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Contains("refusal ratio", r.Reason);
        Assert.Contains("golden vector 3 differs", r.Reason);
        Assert.All(moved, d => Assert.Equal("models/vib/1.0.0.bundle", w.Publisher.Target(d, Family)));
        Assert.All(await w.Store.ListRolloutDevicesAsync("r1"), d => Assert.Equal((RolloutDeviceAction.Reverted, true), (d.Action, d.Published)));
        Assert.Equal(["created", "assigned", "halted", "rolled-back"], (await w.Store.ListRolloutEventsAsync("r1")).Select(e => e.Action));
        // Ended: no further steps, whatever devices report now.
        await w.Fleet.UpdateAsync(moved[1], Family, "2.0.0", 2, "committed");
        w.Time.Advance(TimeSpan.FromHours(1));
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(2, (await w.MovedAsync("r1")).Count);
    }

    [Fact]
    public async Task Devices_rolling_the_release_back_by_themselves_halt_the_rollout()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(new RolloutThresholds { MaxRollbackRatio = 0.3, MinPredictions = 50 }), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var moved = await w.MovedAsync("r1");
        await w.Fleet.UpdateAsync(moved[0], Family, "2.0.0", 2, "committed");
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Running, (await w.RolloutAsync("r1")).State); // 0 of 1 reporting rolled back
        await w.Fleet.UpdateAsync(moved[1], Family, "2.0.0", 2, "rolled-back", "error rate 12 % in the health window (limit 5 %)", "HealthErrors");
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Contains("rollback ratio 0.5 (1 of 2 reporting devices rolled vib@2.0.0 back) is above the limit 0.3", r.Reason);
        Assert.Contains("error rate 12 %", r.Reason);
    }

    [Fact]
    public async Task A_fallback_rate_above_the_limit_halts_and_rolls_back_once_enough_predictions_arrived()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(new RolloutThresholds { MaxFallbackRate = 0.2, MinPredictions = 100 }), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var moved = await w.MovedAsync("r1");
        foreach (var d in moved) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        w.Time.Advance(TimeSpan.FromSeconds(1));
        // Predictions of the old model do not count against the new one.
        await w.Fleet.PredictionsAsync(moved[0], "vib@1.0.0", 200, 0.9f, fallbackEvery: 1);
        await w.Fleet.PredictionsAsync(moved[0], "vib@2.0.0", 40, 0.9f, fallbackEvery: 2);
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Running, (await w.RolloutAsync("r1")).State); // 40 predictions: not enough to judge
        await w.Fleet.PredictionsAsync(moved[1], "vib@2.0.0", 80, 0.9f, fallbackEvery: 2);
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Contains("fallback rate 0.5 (60 of 120 predictions of vib@2.0.0", r.Reason);
        Assert.All(moved, d => Assert.Equal("models/vib/1.0.0.bundle", w.Publisher.Target(d, Family)));
    }

    [Fact]
    public async Task Low_mean_confidence_halts_the_rollout()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(new RolloutThresholds { MinMeanConfidence = 0.6, MinPredictions = 50 }), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var moved = await w.MovedAsync("r1");
        await w.Fleet.UpdateAsync(moved[0], Family, "2.0.0", 2, "committed");
        await w.Fleet.PredictionsAsync(moved[0], "vib@2.0.0", 60, 0.41f);
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Contains("mean confidence 0.41 over 60 predictions of vib@2.0.0 is below the limit 0.6", r.Reason);
    }

    [Fact]
    public async Task Input_drift_against_the_release_reference_profile_halts_the_rollout_and_stable_input_does_not()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(new RolloutThresholds { MaxDriftPsi = 0.25, MinDriftSamples = 2000, MinPredictions = 50 }), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var moved = await w.MovedAsync("r1");
        foreach (var d in moved) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        Assert.Null((await w.Fleet.DriftAsync(moved[0], "vib@2.0.0", "x0", 0, 3000, 1)).Rejected);
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(RolloutState.Running, (await w.RolloutAsync("r1")).State);
        await w.Fleet.DriftAsync(moved[1], "vib@2.0.0", "x0", 2.5, 3000, 2);
        await w.Engine.EvaluateAllAsync(default);
        var r = await w.RolloutAsync("r1");
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Contains("input drift PSI", r.Reason);
        Assert.Contains("feature 'x0' (6000 samples", r.Reason);
    }

    [Fact]
    public async Task Pause_stops_progress_resume_continues_promote_skips_the_bake_and_abort_reverts_the_moved_devices()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(), "alice", default);
        await w.Engine.EvaluateAllAsync(default);
        var paused = await w.Service.PauseAsync("r1", "bob", "night shift", default);
        Assert.Equal((RolloutState.Paused, "night shift"), (paused.State, paused.Reason));
        foreach (var d in await w.MovedAsync("r1")) await w.Fleet.UpdateAsync(d, Family, "2.0.0", 2, "committed");
        w.Time.Advance(TimeSpan.FromHours(1));
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal((RolloutState.Paused, 0), ((await w.RolloutAsync("r1")).State, (await w.RolloutAsync("r1")).StepIndex));
        var refused = await Assert.ThrowsAsync<RolloutException>(() => w.Service.PauseAsync("r1", "bob", null, default));
        Assert.Equal(RolloutErrorKind.Conflict, refused.Kind);
        Assert.Contains("pause needs it running", refused.Message);

        await w.Service.ResumeAsync("r1", "bob", null, default);
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal((RolloutState.Running, 1), ((await w.RolloutAsync("r1")).State, (await w.RolloutAsync("r1")).StepIndex));

        // Promote: the next step now, without bake or committed devices.
        await w.Service.PromoteAsync("r1", "bob", "looks good", default);
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(2, (await w.RolloutAsync("r1")).StepIndex);
        Assert.Equal(20, (await w.MovedAsync("r1")).Count);

        var aborted = await w.Service.AbortAsync("r1", "bob", "customer complaint", default);
        Assert.Equal(RolloutState.Aborted, aborted.State);
        await w.Engine.EvaluateAllAsync(default);
        Assert.All(w.Cohort, d => Assert.Equal("models/vib/1.0.0.bundle", w.Publisher.Target(d, Family)));
        Assert.Empty(await w.Store.ListRolloutsNeedingWorkAsync());
        var history = await w.Store.ListRolloutEventsAsync("r1");
        Assert.Contains(history, e => e is { Actor: "bob", Action: "aborted" } && e.Detail!.Contains("customer complaint; previous release re-assigned to 20 device(s)"));
        await Assert.ThrowsAsync<RolloutException>(() => w.Service.ResumeAsync("r1", "bob", null, default));
    }

    [Fact]
    public async Task A_failed_publish_leaves_the_assignments_pending_and_the_next_evaluation_publishes_them()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(), "alice", default);
        w.Publisher.FailNext = true;
        await w.Engine.EvaluateAllAsync(default);
        Assert.Empty(w.Publisher.Batches);
        Assert.All(await w.Store.ListRolloutDevicesAsync("r1"), d => Assert.False(d.Published));
        await w.Engine.EvaluateAllAsync(default);
        Assert.Equal(2, Assert.Single(w.Publisher.Batches).Count);
        Assert.All(await w.Store.ListRolloutDevicesAsync("r1"), d => Assert.True(d.Published));
    }

    [Fact]
    public async Task A_release_whose_counter_is_not_above_the_fleet_current_is_refused_and_one_family_has_one_active_rollout()
    {
        await using var w = await WorldAsync();
        await RegisterReleaseAsync(w.Store, Family, "2.1.0", 3);
        await RegisterReleaseAsync(w.Store, Family, "2.2.0", 4);
        // A device already committed counter 3 (e.g. installed by hand): 2.0.0 (counter 2) and 2.1.0 (counter 3) would be refused by it.
        await w.Fleet.UpdateAsync(w.Cohort[0], Family, "2.1.0", 3, "committed");
        var lower = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(Request(), "alice", default));
        Assert.Contains("release counter 2, not above the fleet's current 3", lower.Message);
        var equal = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(Request() with { Version = "2.1.0" }, "alice", default));
        Assert.Equal(RolloutErrorKind.Conflict, equal.Kind);

        await w.Service.CreateAsync(Request() with { Version = "2.2.0" }, "alice", default);
        var second = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(Request(id: "r2") with { Version = "2.2.0" }, "alice", default));
        Assert.Contains("already has an active rollout 'r1'", second.Message);
        Assert.Single(await w.Store.ListRolloutsAsync());
    }

    [Fact]
    public async Task Bad_rollout_definitions_are_refused_with_one_reason_each_and_nothing_is_stored()
    {
        await using var w = await WorldAsync();
        var steps = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(
            Request(new RolloutThresholds { MaxRefusalRatio = 1.5 }) with { Steps = [new(50, 60, 1), new(20, -1, 1)] }, "alice", default));
        Assert.Equal(RolloutErrorKind.Invalid, steps.Kind);
        Assert.Contains("step 2: percent 20 must be above the previous step's 50", steps.Message);
        Assert.Contains("step 2: bakeSeconds -1 must be 0 or more", steps.Message);
        Assert.Contains("the last step must be 100 percent, not 20", steps.Message);
        Assert.Contains("maxRefusalRatio 1.5 must be between 0 and 1", steps.Message);
        var nobody = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(Request() with { Cohort = new() { ["site"] = "moon" } }, "alice", default));
        Assert.Contains("cohort site=moon matches no registered, unrevoked device", nobody.Message);
        var unknown = await Assert.ThrowsAsync<RolloutException>(() => w.Service.CreateAsync(Request() with { Version = "9.9.9" }, "alice", default));
        Assert.Contains("release vib@9.9.9 is not registered", unknown.Message);
        Assert.Empty(await w.Store.ListRolloutsAsync());
    }

    [Fact]
    public async Task Two_hub_instances_evaluating_at_once_assign_each_device_once()
    {
        await using var w = await WorldAsync();
        var other = Engine(w.Store, w.Time, w.Publisher);
        await w.Service.CreateAsync(Request() with { Steps = [new(100, 0, 0)] }, "alice", default);
        for (int round = 0; round < 5; round++)
            await Task.WhenAll(w.Engine.EvaluateAllAsync(default), other.EvaluateAllAsync(default), w.Engine.EvaluateAllAsync(default), other.EvaluateAllAsync(default));
        Assert.Equal(20, w.Publisher.PublishCounts.Count);
        Assert.All(w.Publisher.PublishCounts.Values, n => Assert.Equal(1, n));
        Assert.Equal(20, (await w.MovedAsync("r1")).Count);
        Assert.Single(await w.Store.ListRolloutEventsAsync("r1"), e => e.Action == "assigned");
    }

    [Fact]
    public async Task A_lease_held_by_another_instance_blocks_evaluation_until_it_expires()
    {
        await using var w = await WorldAsync();
        await w.Service.CreateAsync(Request(), "alice", default);
        Assert.True(await w.Store.TryLeaseRolloutAsync("r1", "crashed-instance", w.Time.GetUtcNow(), w.Time.GetUtcNow().AddMinutes(2)));
        Assert.False(await w.Engine.EvaluateAsync("r1", default));
        Assert.Empty(await w.MovedAsync("r1"));
        w.Time.Advance(TimeSpan.FromMinutes(3));
        Assert.True(await w.Engine.EvaluateAsync("r1", default));
        Assert.Equal(2, (await w.MovedAsync("r1")).Count);
    }

    [Fact]
    public async Task Update_transitions_are_stored_once_and_the_device_state_follows_the_newest()
    {
        await using var w = await WorldAsync();
        var d = w.Cohort[0];
        var batch = w.Fleet.Batch(d, EdgeAgent.Telemetry.Wire.TelemetryStream.Update,
        [
            new EdgeAgent.Updates.Events.UpdateEvent(Family, "2.0.0", 2, "idle", "downloading", null, new() { ["bytes"] = 4096 }, T0).ToJson(),
            new EdgeAgent.Updates.Events.UpdateEvent(Family, "2.0.0", 2, "downloading", "verifying", null, null, T0.AddSeconds(1)).ToJson(),
        ]);
        Assert.Equal(2, (await w.Fleet.IngestAsync(d, EdgeAgent.Telemetry.Wire.TelemetryStream.Update, batch)).Inserted);
        Assert.Equal(0, (await w.Fleet.IngestAsync(d, EdgeAgent.Telemetry.Wire.TelemetryStream.Update, batch)).Inserted); // redelivered
        // Another hub instance (empty dedup window) gets the same batch: the store's key keeps it once.
        var other = new FleetReports(w.Store, w.Time);
        await other.IngestAsync(d, EdgeAgent.Telemetry.Wire.TelemetryStream.Update, batch);
        var history = await w.Store.ListDeviceUpdatesAsync(d, 10);
        Assert.Equal(["verifying", "downloading"], history.Select(h => h.To));
        Assert.Equal("""{"bytes":4096}""", history[1].Metrics);
        var state = Assert.Single(await w.Store.ListDeviceUpdateStatesAsync(Family));
        Assert.Equal(("2.0.0", "verifying"), (state.Version, state.Phase));
    }
}

public sealed class SqliteRolloutEngineTests(SqliteStoreFactory factory)
    : RolloutEngineContract<SqliteStoreFactory>(factory), IClassFixture<SqliteStoreFactory>;

public sealed class PostgresRolloutEngineTests(PostgresStoreFactory factory)
    : RolloutEngineContract<PostgresStoreFactory>(factory), IClassFixture<PostgresStoreFactory>;
