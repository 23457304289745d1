using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Updates;

public sealed class EndToEndUpdateTests
{
    [Fact]
    public async Task A_signed_release_is_downloaded_with_one_interruption_resumed_validated_activated_under_load_observed_and_committed()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var bundle = TestModels.Bundle(TestModels.V2, "2.0.0", 2);
        var target = bed.Publish("2.0.0", bundle);
        var before = bed.Predict();
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);

        bed.Server.CutAfterBytes = bundle.Length / 2; // the link drops halfway
        var manager = bed.NewManager();
        var first = await manager.ApplyAsync(target, CancellationToken.None);
        Assert.True(first.Interrupted, first.Reason);
        Assert.Equal(UpdatePhase.Downloading, first.Phase);
        Assert.Equal(TestModels.V1.OnnxBytes.Length, new FileInfo(bed.Engine.Source).Length); // still the old model

        // Next attempt (a new manager: what the agent does after a restart too) resumes with a Range request.
        var outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Committed, outcome.Phase);
        var ranged = bed.Server.Requests.Where(r => r.Path.StartsWith("targets/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ranged.Count);
        Assert.Null(ranged[0].RangeStart);
        Assert.Equal(bundle.Length / 2, ranged[1].RangeStart);
        Assert.Equal(bundle.Length - bundle.Length / 2, ranged[1].BodyBytesSent); // only the missing half was fetched again

        Assert.Equal(UpdateTestBed.Sha(TestModels.V2.OnnxBytes), bed.ServingModelSha());
        var after = bed.Predict();
        var expected = TestModels.V2.Reference.Run(TestModels.Window(1));
        for (var i = 0; i < 4; i++) Assert.InRange(after[i], expected[i] - TestModels.V2.ProbabilityTolerance, expected[i] + TestModels.V2.ProbabilityTolerance);
        Assert.NotEqual(before, after);
        Assert.Equal(0, traffic.Failures);
        Assert.True(traffic.Calls > 100);

        var phases = bed.Events.Events.Select(e => e.To).ToList();
        Assert.Equal(["downloading", "verifying", "validating", "activating", "observing", "committed"], phases);
        Assert.All(bed.Events.Events, e => Assert.Equal("2.0.0", e.Version));
        var validated = bed.Events.Events.Single(e => e.From == "validating");
        Assert.True(validated.Metrics!["p99Ms"] > 0);
        var pointer = new UpdateStateStore(bed.FamilyDir).ReadPointer()!;
        Assert.True(pointer.ActiveCommitted);
        Assert.Equal(2, pointer.ReleaseCounterFloor);
        Assert.Equal("2.0.0", pointer.ActiveVersion);
    }

    [Fact]
    public async Task A_shadow_phase_reports_agreement_with_the_serving_model_on_live_windows()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("1.1.0", TestModels.Bundle(TestModels.V1, "1.1.0", 2, m => m.LatencyBudgetMs = 500));
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        var outcome = await bed.NewManager(o => o with { ShadowWindows = 50, MinShadowAgreement = 0.9 }).ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Committed, outcome.Phase);
        var shadow = bed.Events.Events.Single(e => e.From == "shadow");
        Assert.Equal(50, shadow.Metrics!["shadowWindows"]);
        Assert.Equal(1.0, shadow.Metrics["agreement"]); // same weights: identical answers
    }

    [Fact]
    public async Task A_shadow_run_that_disagrees_with_the_serving_model_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("3.0.0", TestModels.CollapsedBundle("3.0.0", 3));
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        var outcome = await bed.NewManager(o => o with { ShadowWindows = 100, MinShadowAgreement = 0.9 }).ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Refused, outcome.Phase);
        Assert.Equal(UpdateRefusal.ShadowDisagreement, outcome.Refusal);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.ServingModelSha());
        Assert.Equal(0, traffic.Failures);
    }
}
