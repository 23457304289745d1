using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Updates;

/// <summary>A release that passes validation but misbehaves on live data is rolled back by the device itself.</summary>
public sealed class AutomaticRollbackTests
{
    private static async Task AssertRolledBackAsync(UpdateTestBed bed, UpdateOutcome outcome, UpdateRefusal refusal, LiveTraffic traffic)
    {
        Assert.Equal(UpdatePhase.RolledBack, outcome.Phase);
        Assert.Equal(refusal, outcome.Refusal);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.ServingModelSha());
        var pointer = new UpdateStateStore(bed.FamilyDir).ReadPointer()!;
        Assert.Equal("1.0.0", pointer.ActiveVersion);
        Assert.True(pointer.ActiveCommitted);
        Assert.Equal(1, pointer.ReleaseCounterFloor); // the bad release never raised the floor
        Assert.Equal(UpdateManager.OpenActive(bed.FamilyDir)!.ModelPath, bed.Engine.Source); // a restart serves the old model too
        var last = bed.Events.Events[^1];
        Assert.Equal("observing", last.From);
        Assert.Equal("rolled-back", last.To);
        Assert.Equal(outcome.Reason, last.Reason);
        Assert.Equal(refusal.ToString(), last.Code);
        Assert.True(last.Metrics!["calls"] >= 100);
        Assert.Equal(0, traffic.Failures);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_release_whose_outputs_collapse_to_one_class_on_live_data_is_rolled_back_and_reported()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("3.0.0", TestModels.CollapsedBundle("3.0.0", 3));
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        var outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        await AssertRolledBackAsync(bed, outcome, UpdateRefusal.HealthCollapse, traffic);
        Assert.Contains("outputs collapsed: class 0", outcome.Reason);
        Assert.Contains(bed.Events.Events, e => e.To == "observing"); // it was activated and served before the verdict

        // The same bytes are not installed again.
        var again = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdateRefusal.PreviouslyRejected, again.Refusal);
    }

    [Fact]
    public async Task A_release_whose_live_latency_blows_the_budget_is_rolled_back_and_reported()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        // Live latencies are measured on a clock that runs 10^6 times fast (a device that became far
        // slower under real load); validation measures on the real clock and passes.
        var clock = new StretchedClock { Factor = 1_000_000 };
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor, latencyClock: clock);
        var outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        await AssertRolledBackAsync(bed, outcome, UpdateRefusal.HealthLatency, traffic);
        Assert.Contains("p99 latency on live data", outcome.Reason);
    }

    [Fact]
    public async Task A_healthy_release_is_committed_and_raises_the_release_counter_floor()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        var outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Committed, outcome.Phase);
        Assert.Equal(2, new UpdateStateStore(bed.FamilyDir).ReadPointer()!.ReleaseCounterFloor);
        // And the previous release is now refused: counters never go back.
        var old = bed.Publish("1.5.0", TestModels.Bundle(TestModels.V1, "1.5.0", 2));
        Assert.Equal(UpdateRefusal.ReleaseCounter, (await bed.NewManager().ApplyAsync(old, CancellationToken.None)).Refusal);
        Assert.Equal(0, traffic.Failures);
    }
}
