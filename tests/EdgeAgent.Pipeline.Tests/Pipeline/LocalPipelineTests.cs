using EdgeAgent.Outbox.Queue;
using System.Runtime.CompilerServices;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Pipeline.Outputs;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Pipeline.Tests.Support;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Pipeline.Tests.Pipeline;

/// <summary>Pipeline behaviour without a cloud tier: bad input, drift, outputs, cancellation, configuration errors.</summary>
public sealed class LocalPipelineTests : IDisposable
{
    private readonly string _dir = PipelineHarness.TempDirectory();

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static InferencePipelineOptions Options(float threshold = 0f, long? snapshotEvery = null) => new()
    {
        Model = "har-cnn", Labels = PipelineHarness.Labels, Gate = new GateOptions { ConfidenceThreshold = threshold },
        Drift = new EdgeAgent.Pipeline.Drift.DriftMonitorOptions { SnapshotEveryWindows = snapshotEvery, Random = new Random(1) },
    };

    [Fact]
    public async Task NaN_and_malformed_samples_are_counted_and_never_fatal()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(Path.Combine(_dir));
        using var engine = PipelineHarness.Engine();
        var inner = PipelineHarness.Source(80, tweak: s => s with { AnomalyRatePerSecond = 0.1, AnomalyKinds = SyntheticAnomalyKinds.NanBurst });
        var source = new WrongAritySource(inner, every: 499);
        var pipeline = new InferencePipeline(source, PipelineHarness.Spec, engine, outbox, Options());

        await pipeline.RunAsync(CancellationToken.None);

        Assert.True(source.Stats.Bad(BadSampleReason.NonFinite) > 0);
        Assert.True(source.Stats.Bad(BadSampleReason.WrongArity) > 0);
        Assert.True(pipeline.Counters.Windows > 20, $"windows {pipeline.Counters.Windows}");
        Assert.Equal(pipeline.Counters.Windows, pipeline.Counters.Local);
        Assert.Equal(pipeline.Counters.Windows, PipelineHarness.ReadOutbox(outbox, TelemetryStream.Telemetry).Count);
    }

    [Fact]
    public async Task A_full_outbox_refusing_events_is_counted_and_the_pipeline_keeps_serving()
    {
        // A budget far below one drift snapshot (≈2.5 KB per feature): drift events are never dropped for room,
        // so the outbox refuses them (OutboxFullException); inference and telemetry must go on.
        await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions
        {
            DatabasePath = Path.Combine(_dir, "outbox.db"), Durability = OutboxDurability.Normal, BudgetBytes = 512 * 1024,
        });
        using var engine = PipelineHarness.Engine();
        var pipeline = new InferencePipeline(PipelineHarness.Source(1000, seed: 5), PipelineHarness.Spec, engine, outbox, Options(snapshotEvery: 1));

        await pipeline.RunAsync(CancellationToken.None);

        Assert.True(pipeline.Counters.OutboxRefused > 0, "some events must have been refused");
        Assert.Equal(1000, pipeline.Counters.Windows);
        Assert.Equal(pipeline.Counters.Windows, pipeline.Counters.Local);
    }

    [Fact]
    public async Task Drift_snapshots_land_in_the_outbox_and_a_drifted_stream_scores_higher_than_a_clean_one()
    {
        var reference = ReferenceFrom(seed: 99, samples: 20_000);
        double clean = await DriftScoreAsync(reference, s => s, "clean");
        double drifted = await DriftScoreAsync(reference, s => s with { DriftStartSeconds = 0, DriftMeanPerSecond = 0.01 }, "drifted");
        Assert.True(drifted > clean, $"drifted PSI {drifted} should exceed clean PSI {clean}");
    }

    private async Task<double> DriftScoreAsync(ReferenceProfile reference, Func<SyntheticSettings, SyntheticSettings> tweak, string name)
    {
        string dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        await using var outbox = await PipelineHarness.OpenOutboxAsync(dir);
        using var engine = PipelineHarness.Engine();
        // 20,000 samples = 311 windows; a snapshot every 100 windows (6,400 new samples per feature) + a final one.
        var source = PipelineHarness.Source(311, seed: 5, tweak);
        var pipeline = new InferencePipeline(source, PipelineHarness.Spec, engine, outbox, Options(snapshotEvery: 100), reference: reference);

        await pipeline.RunAsync(CancellationToken.None);

        var drift = PipelineHarness.ReadOutbox(outbox, TelemetryStream.Drift);
        Assert.Equal(4 * 3, drift.Count);   // 3 full snapshots + the final partial one, 3 features each
        Assert.Equal(pipeline.Counters.DriftSnapshots, drift.Count);
        long total = 0;
        foreach (var d in drift)
        {
            Assert.Equal("edgeagent.drift.window/1", d.GetProperty("schema").GetString());
            var sketch = KllFloatsSketch.Deserialize(Convert.FromBase64String(d.GetProperty("kll").GetString()!));
            Assert.Equal(d.GetProperty("count").GetInt64(), sketch.N);
            Assert.True(d.GetProperty("windowEnd").GetDateTimeOffset() >= d.GetProperty("windowStart").GetDateTimeOffset());
            Assert.True(d.TryGetProperty("score", out var score) && score.GetProperty("psi").GetDouble() >= 0);
            total += sketch.N;
        }
        // Overlapping windows contribute their new samples only: every sample is sketched once per feature.
        Assert.Equal(3 * PipelineHarness.SamplesFor(311), total);
        return pipeline.Counters.LastDriftScore;
    }

    private static ReferenceProfile ReferenceFrom(ulong seed, int samples)
    {
        var generator = new SyntheticAccelerometer(new SyntheticSettings { Seed = seed });
        var builder = new ReferenceProfileBuilder(["ax", "ay", "az"], random: new Random(2));
        var row = new float[3];
        for (int i = 0; i < samples; i++)
        {
            generator.Next(row);
            builder.AddRow(row);
        }
        return builder.Build();
    }

    [Fact]
    public async Task Out_of_distribution_windows_are_escalated_even_when_the_model_is_confident()
    {
        var reference = ReferenceFrom(seed: 99, samples: 20_000);
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        // +10 g per second on every axis: after a fraction of a second every value is far outside the reference range.
        var source = PipelineHarness.Source(20, seed: 5, s => s with { DriftStartSeconds = 0, DriftMeanPerSecond = 10 });
        var options = Options() with { Gate = new GateOptions { ConfidenceThreshold = 0, OutOfDistributionThreshold = 0.5f } };
        var pipeline = new InferencePipeline(source, PipelineHarness.Spec, engine, outbox, options, reference: reference);

        await pipeline.RunAsync(CancellationToken.None);

        Assert.Equal(20, pipeline.Counters.Escalated);
        Assert.Equal(20, pipeline.Counters.FallbackFor(FallbackReason.CloudDisabled));
        var cases = PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase);
        Assert.Equal(20, cases.Count);
        Assert.All(cases, c =>
        {
            Assert.Equal("out-of-distribution", c.GetProperty("escalation").GetString());
            Assert.True(c.GetProperty("oodScore").GetSingle() >= 0.5f);
        });
    }

    [Fact]
    public async Task Without_a_reference_profile_nothing_is_out_of_distribution_and_clean_windows_stay_local()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var options = Options() with { Gate = new GateOptions { ConfidenceThreshold = 0, OutOfDistributionThreshold = 0.01f } };
        var pipeline = new InferencePipeline(PipelineHarness.Source(10), PipelineHarness.Spec, engine, outbox, options);

        await pipeline.RunAsync(CancellationToken.None);

        Assert.Equal(10, pipeline.Counters.Local);
        Assert.Equal(0, pipeline.Counters.Escalated);
    }

    [Fact]
    public async Task A_tiny_outbox_queue_may_drop_telemetry_but_never_a_fallback_case()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        // Every window is a hard case without a cloud tier, so every window carries a fallback case.
        var options = Options(threshold: 1.0f) with { OutboxQueueCapacity = 1, OutboxBatch = 1 };
        var pipeline = new InferencePipeline(PipelineHarness.Source(200), PipelineHarness.Spec, engine, outbox, options);

        await pipeline.RunAsync(CancellationToken.None);

        var c = pipeline.Counters;
        Assert.Equal(200, c.Windows);
        Assert.Equal(c.Escalated, c.FallbackCasesQueued);
        Assert.Equal(c.Escalated, PipelineHarness.ReadOutbox(outbox, TelemetryStream.FallbackCase).Count);
        Assert.Equal(c.Windows, c.TelemetryCommitted + c.TelemetryDropped);
        Assert.Equal(c.TelemetryCommitted, PipelineHarness.ReadOutbox(outbox, TelemetryStream.Telemetry).Count);
    }

    [Fact]
    public async Task Results_reach_the_file_and_gpio_outputs()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        string file = Path.Combine(_dir, "results.jsonl");
        string line = Path.Combine(_dir, "gpio-value");
        await using var jsonl = JsonLinesOutput.ForFile(file);
        var gpio = new GpioResultOutput(new ValueFileGpioLine(line), ["run", "vibration_fault"]);
        var pipeline = new InferencePipeline(PipelineHarness.Source(30), PipelineHarness.Spec, engine, outbox, Options(), outputs: [jsonl, gpio]);

        await pipeline.RunAsync(CancellationToken.None);

        var lines = File.ReadAllLines(file);
        Assert.Equal(30, lines.Length);
        string lastLabel = System.Text.Json.JsonDocument.Parse(lines[^1]).RootElement.GetProperty("label").GetString()!;
        Assert.Equal(lastLabel is "run" or "vibration_fault" ? "1" : "0", File.ReadAllText(line).Trim());
        Assert.Equal(0, pipeline.Counters.OutputFailures);
    }

    [Fact]
    public async Task A_failing_output_is_counted_and_does_not_stop_inference()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var gpio = new GpioResultOutput(new ValueFileGpioLine(Path.Combine(_dir, "missing-dir", "value")), ["idle", "walk", "run", "vibration_fault"]);
        var pipeline = new InferencePipeline(PipelineHarness.Source(10), PipelineHarness.Spec, engine, outbox, Options(), outputs: [gpio]);

        await pipeline.RunAsync(CancellationToken.None);

        Assert.Equal(10, pipeline.Counters.Windows);
        Assert.Equal(10, pipeline.Counters.OutputFailures);
    }

    [Fact]
    public async Task Cancellation_stops_a_live_pipeline_promptly()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var source = new SyntheticSource(new SyntheticSettings { Seed = 4, RateHz = 2000, RealTime = true });
        var pipeline = new InferencePipeline(source, PipelineHarness.Spec, engine, outbox, Options());
        using var cts = new CancellationTokenSource();
        var run = pipeline.RunAsync(cts.Token);
        for (int i = 0; i < 400 && pipeline.Counters.Windows < 3; i++) await Task.Delay(25);
        Assert.True(pipeline.Counters.Windows >= 3);

        cts.Cancel();

        // A generous bound only so a hang fails the test instead of the whole run.
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.Same(run, finished);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        long progress = pipeline.Counters.Progress;
        await Task.Delay(100);
        Assert.Equal(progress, pipeline.Counters.Progress);
    }

    [Fact]
    public async Task A_label_list_that_does_not_match_the_model_output_is_refused_with_a_clear_message()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var options = Options() with { Labels = ["idle", "walk", "run"] };

        var e = Assert.Throws<PipelineConfigurationException>(() =>
            new InferencePipeline(PipelineHarness.Source(1), PipelineHarness.Spec, engine, outbox, options));

        Assert.Contains("3 labels are configured", e.Message);
        Assert.Contains("probabilities", e.Message);
    }

    [Fact]
    public async Task A_window_spec_that_does_not_match_the_model_input_is_refused()
    {
        await using var outbox = await PipelineHarness.OpenOutboxAsync(_dir);
        using var engine = PipelineHarness.Engine();
        var spec = PipelineHarness.Spec with { Length = 64 };

        var e = Assert.Throws<PipelineConfigurationException>(() =>
            new InferencePipeline(PipelineHarness.Source(1), spec, engine, outbox, Options()));

        Assert.Contains("window spec gives 192 float32 values", e.Message);
    }

    /// <summary>Fault injection: every n-th sample arrives with two values instead of three.</summary>
    private sealed class WrongAritySource(ISensorSource inner, int every) : ISensorSource
    {
        public string Name => inner.Name;
        public IReadOnlyList<string> Channels => inner.Channels;
        public double? NominalRateHz => inner.NominalRateHz;
        public SampleBackPressure PreferredBackPressure => inner.PreferredBackPressure;
        public SensorStats Stats => inner.Stats;

        public async IAsyncEnumerable<SensorSample> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            long i = 0;
            await foreach (var s in inner.ReadAllAsync(cancellationToken))
            {
                yield return ++i % every == 0 ? s with { Values = s.Values[..2] } : s;
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
