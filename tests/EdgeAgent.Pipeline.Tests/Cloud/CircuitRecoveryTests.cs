using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Pipeline.Tests.Support;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Pipeline.Tests.Cloud;

/// <summary>The cloud tier's circuit breaker against a real broker and responder; break duration on a manual clock.</summary>
public sealed class CircuitRecoveryTests
{
    private static CloudInferenceRequest Request(long window) => PipelineHarness.CloudRequest("press-18", window);

    [Fact]
    public async Task The_circuit_opens_on_bad_answers_refuses_while_open_and_closes_after_a_good_trial_request()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var device = await PipelineHarness.ConnectAsync(broker.Port, "dev-18");
        await using var responder = await CloudResponder.StartAsync(broker.Port, "press-18");
        var clock = new ManualTime(new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero));
        var transitions = new List<string>();
        var resilience = CloudResilience.Create(new CloudCircuitOptions
        {
            MinimumThroughput = 2, FailureRatio = 1, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(60),
        }, clock, s => { lock (transitions) transitions.Add(s); });
        await using var tier = await CloudTier.CreateAsync(device, resilience,
            new CloudRequestBudget(new CloudBudgetOptions { RequestsPerSecond = 1000, Burst = 1000, DailyBudget = null }),
            new CloudTierOptions { DeviceId = "press-18", Timeout = TimeSpan.FromSeconds(10) });

        responder.Malformed = true;
        Assert.Equal(FallbackReason.CloudError, (await tier.AskAsync(Request(1), CancellationToken.None)).Reason);
        Assert.Equal(FallbackReason.CloudError, (await tier.AskAsync(Request(2), CancellationToken.None)).Reason);
        responder.Malformed = false;
        Assert.Equal(FallbackReason.CircuitOpen, (await tier.AskAsync(Request(3), CancellationToken.None)).Reason);
        Assert.Equal(2, tier.Attempts);
        Assert.Equal(2, responder.Received);

        clock.Advance(TimeSpan.FromSeconds(61));
        var trial = await tier.AskAsync(Request(4), CancellationToken.None);
        var after = await tier.AskAsync(Request(5), CancellationToken.None);

        Assert.Equal("run", trial.Response?.Label);
        Assert.Equal("run", after.Response?.Label);
        Assert.Equal(4, responder.Received);
        lock (transitions) Assert.Equal(["opened", "half-opened", "closed"], transitions);
    }
}
