using EdgeAgent.Mqtt;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Pipeline.Outputs;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Pipeline.Tests.Support;
using EdgeAgent.TestSupport.Mosquitto;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Pipeline.Tests.Pipeline;

/// <summary>Gate and cloud tier end to end: real INT8 CNN on ONNX Runtime, real Mosquitto, real SQLite outbox.</summary>
public sealed class CloudGateTests : IAsyncLifetime
{
    private const string DeviceId = "press-17";
    private MosquittoBroker _broker = null!;
    private string _dir = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _dir = PipelineHarness.TempDirectory();
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static InferencePipelineOptions Options(float threshold, int workers = 4) => new()
    {
        Model = "har-cnn", Labels = PipelineHarness.Labels, Gate = new GateOptions { ConfidenceThreshold = threshold }, CloudWorkers = workers,
    };

    private static async Task<CloudTier> TierAsync(MqttClient client, TimeSpan timeout, CloudCircuitOptions? circuit = null, CloudBudgetOptions? budget = null) =>
        await CloudTier.CreateAsync(client,
            CloudResilience.Create(circuit ?? new CloudCircuitOptions { MinimumThroughput = 1000, FailureRatio = 1, BreakDuration = TimeSpan.FromMinutes(10) }),
            new CloudRequestBudget(budget ?? new CloudBudgetOptions { RequestsPerSecond = 10_000, Burst = 10_000, DailyBudget = null }),
            new CloudTierOptions { DeviceId = DeviceId, Timeout = timeout });

    [Fact]
    public async Task Confident_windows_are_answered_locally_and_low_confidence_windows_by_the_cloud_responder()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var responder = await CloudResponder.StartAsync(_broker.Port, DeviceId);
        await using var tier = await TierAsync(device, TimeSpan.FromSeconds(10));
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var lines = new MemoryStream();
        await using var jsonl = new JsonLinesOutput(lines, "memory");
        var pipeline = new InferencePipeline(PipelineHarness.Source(60), PipelineHarness.Spec, engine, outbox, Options(0.9f), tier, [jsonl]);

        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.Equal(60, c.Windows);
        Assert.True(c.Local > 0, "some windows are confident");
        Assert.True(c.Cloud > 0, "some windows are hard");
        Assert.Equal(0, c.Fallback);
        Assert.Equal(c.Cloud, responder.Received);
        Assert.All(responder.Requests, r => { Assert.Equal(384, r.InputLength); Assert.True(r.LocalConfidence < 0.9f); Assert.Equal("low-confidence", r.Reason); });

        var results = PipelineHarness.Lines(lines);
        Assert.Equal(60, results.Count);
        foreach (var r in results)
        {
            string by = r.GetProperty("decidedBy").GetString()!;
            if (by == "local") Assert.True(r.GetProperty("confidence").GetSingle() >= 0.9f);
            else
            {
                Assert.Equal("cloud", by);
                Assert.Equal("run", r.GetProperty("label").GetString());
                Assert.Equal("hub-large", r.GetProperty("cloudModel").GetString());
                Assert.True(r.GetProperty("localConfidence").GetSingle() < 0.9f);
            }
        }
        var telemetry = PipelineHarness.ReadOutbox(outbox, TelemetryStream.Telemetry);
        Assert.Equal(60, telemetry.Count);
        Assert.Equal(c.Cloud, telemetry.Count(t => t.GetProperty("decidedBy").GetString() == "cloud"));
        Assert.All(telemetry, t => Assert.True(t.GetProperty("inferenceUs").GetInt64() >= 0));
        Assert.Empty(PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase));
    }

    [Fact]
    public async Task Results_are_published_to_a_local_mqtt_topic()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var listener = await PipelineHarness.ConnectAsync(_broker.Port, "listener");
        int received = 0;
        listener.MessageHandler = (m, _) => { if (m.Topic == "plant/line1/state") Interlocked.Increment(ref received); return ValueTask.CompletedTask; };
        await listener.SubscribeAsync("plant/line1/state", EdgeAgent.Mqtt.Packets.MqttQualityOfService.AtLeastOnce);
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var output = new MqttResultOutput(device, "plant/line1/state", EdgeAgent.Mqtt.Packets.MqttQualityOfService.AtLeastOnce);
        var pipeline = new InferencePipeline(PipelineHarness.Source(15), PipelineHarness.Spec, engine, outbox, Options(0f), outputs: [output]);

        await pipeline.RunAsync(CancellationToken.None);

        for (int i = 0; i < 200 && Volatile.Read(ref received) < 15; i++) await Task.Delay(25);
        Assert.Equal(15, Volatile.Read(ref received));
        Assert.Equal(0, pipeline.Counters.OutputFailures);
    }

    [Fact]
    public async Task When_more_hard_cases_arrive_than_the_cloud_workers_can_carry_the_rest_fall_back_as_cloud_busy_without_spending_budget()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var responder = await CloudResponder.StartAsync(_broker.Port, DeviceId);
        // While the single worker waits 2 s for its answer, the loop produces the other windows (milliseconds).
        responder.Delay = TimeSpan.FromSeconds(2);
        await using var tier = await TierAsync(device, TimeSpan.FromSeconds(10));
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var options = Options(1.0f, workers: 1) with { CloudQueueCapacity = 1 };
        var pipeline = new InferencePipeline(PipelineHarness.Source(40), PipelineHarness.Spec, engine, outbox, options, tier);

        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.True(c.FallbackFor(FallbackReason.CloudBusy) > 0);
        Assert.Equal(c.Escalated, c.Cloud + c.FallbackFor(FallbackReason.CloudBusy));
        Assert.Equal(c.Cloud, responder.Received);
        Assert.Equal(c.Cloud, tier.Budget.UsedToday);
        Assert.Equal(c.FallbackFor(FallbackReason.CloudBusy), PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase).Count);
    }

    [Fact]
    public async Task A_responder_slower_than_the_timeout_leaves_the_local_answer_and_queues_the_case()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var responder = await CloudResponder.StartAsync(_broker.Port, DeviceId);
        responder.Delay = TimeSpan.FromSeconds(2);
        await using var tier = await TierAsync(device, TimeSpan.FromMilliseconds(300));
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();

        var pipeline = new InferencePipeline(PipelineHarness.Source(12), PipelineHarness.Spec, engine, outbox, Options(1.0f), tier);
        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.True(c.Escalated > 0);
        Assert.Equal(0, c.Cloud);
        Assert.Equal(c.Escalated, c.FallbackFor(FallbackReason.Timeout));
        var cases = PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase);
        Assert.Equal(c.Escalated, cases.Count);
        foreach (var hard in cases)
        {
            Assert.Equal("edgeagent.fallback-case/1", hard.GetProperty("schema").GetString());
            Assert.Equal("timeout", hard.GetProperty("reason").GetString());
            Assert.Equal(384, hard.GetProperty("input").GetArrayLength());
            Assert.Equal(4, hard.GetProperty("probabilities").GetArrayLength());
            Assert.Contains(hard.GetProperty("localLabel").GetString(), PipelineHarness.Labels);
        }
    }

    [Fact]
    public async Task A_malformed_cloud_answer_is_a_cloud_error_and_never_fatal()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var responder = await CloudResponder.StartAsync(_broker.Port, DeviceId);
        responder.Malformed = true;
        await using var tier = await TierAsync(device, TimeSpan.FromSeconds(10));
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var pipeline = new InferencePipeline(PipelineHarness.Source(10), PipelineHarness.Spec, engine, outbox, Options(1.0f), tier);

        await pipeline.RunAsync(CancellationToken.None);

        Assert.Equal(10, pipeline.Counters.Windows);
        Assert.True(pipeline.Counters.Escalated > 0);
        Assert.Equal(pipeline.Counters.Escalated, pipeline.Counters.FallbackFor(FallbackReason.CloudError));
        Assert.Equal(pipeline.Counters.Escalated, PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase).Count);
    }

    [Fact]
    public async Task With_the_broker_down_the_circuit_opens_after_the_configured_failures_and_no_further_requests_are_sent()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var tier = await TierAsync(device, TimeSpan.FromMilliseconds(500),
            new CloudCircuitOptions { MinimumThroughput = 3, FailureRatio = 1, BreakDuration = TimeSpan.FromMinutes(10) });
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        await _broker.KillAsync();
        for (int i = 0; i < 200 && device.State == MqttConnectionState.Connected; i++) await Task.Delay(25);
        var pipeline = new InferencePipeline(PipelineHarness.Source(30), PipelineHarness.Spec, engine, outbox, Options(1.0f, workers: 1), tier);

        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.True(c.Escalated > 3, $"need more hard windows than the breaker threshold, got {c.Escalated}");
        Assert.Equal(3, tier.Attempts);
        Assert.Equal(3, c.FallbackFor(FallbackReason.Offline) + c.FallbackFor(FallbackReason.Timeout));
        Assert.Equal(c.Escalated - 3, c.FallbackFor(FallbackReason.CircuitOpen));
        Assert.Equal(0, c.Cloud);
        Assert.Equal(30, c.Local + c.Fallback);
        var cases = PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase);
        Assert.Equal(c.Escalated, cases.Count);
        Assert.Equal(c.Escalated - 3, cases.Count(x => x.GetProperty("reason").GetString() == "circuit-open"));
    }

    [Fact]
    public async Task The_rate_cap_limits_cloud_requests_and_the_rest_fall_back_as_rate_limited()
    {
        await using var device = await PipelineHarness.ConnectAsync(_broker.Port, "dev");
        await using var responder = await CloudResponder.StartAsync(_broker.Port, DeviceId);
        await using var tier = await TierAsync(device, TimeSpan.FromSeconds(10),
            budget: new CloudBudgetOptions { RequestsPerSecond = 0.001, Burst = 2, DailyBudget = null });
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var pipeline = new InferencePipeline(PipelineHarness.Source(20), PipelineHarness.Spec, engine, outbox, Options(1.0f), tier);

        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.True(c.Escalated > 2);
        Assert.Equal(2, responder.Received);
        Assert.Equal(2, c.Cloud);
        Assert.Equal(c.Escalated - 2, c.FallbackFor(FallbackReason.RateLimited));
        Assert.Equal(c.Escalated - 2, PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase).Count);
    }
}
