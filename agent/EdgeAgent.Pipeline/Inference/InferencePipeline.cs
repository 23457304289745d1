using System.Text.Json;
using System.Threading.Channels;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Outputs;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Pipeline;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Pipeline.Inference;

/// <summary>
/// The agent's inference pipeline (DESIGN.md §8): sensor source → windower → inference engine lease → gate →
/// (cloud tier) → outputs + outbox telemetry / fallback cases + drift snapshots.
/// </summary>
/// <remarks>
/// <para><b>Stages and back-pressure</b> (bounded channels; see the README's table):</para>
/// <list type="bullet">
/// <item>Samples → windower: the sensor pipeline's queue, with the source's policy (wait or drop-oldest).</item>
/// <item>Inference loop (one thread at a time): copies the window into the engine lease, runs, gates. It never
/// waits for an output, and never for the cloud.</item>
/// <item>Hard cases → cloud workers: bounded; full = the case falls back at once (<c>cloud-busy</c>).</item>
/// <item>Results → each output: bounded per output, drop-oldest with a count.</item>
/// <item>Results → outbox stage: bounded. Full: a plain telemetry event is dropped and counted; a fallback case or
/// a drift snapshot waits for space (they are never dropped here), which may hold the inference loop — bounded by the
/// outbox's own progress.</item>
/// </list>
/// <para><b>Ending:</b> when the source ends, queued work drains (cloud requests answer or time out, a final drift
/// snapshot is taken, the outbox stage commits) and <see cref="RunAsync"/> returns. On cancellation every stage
/// stops promptly and <see cref="RunAsync"/> throws <see cref="OperationCanceledException"/>; queued results that were
/// not yet handed to the outbox are lost (a later fallback case is re-created by the next hard window, not retried).</para>
/// <para><b>Ownership:</b> the engine, outbox, cloud tier and outputs belong to the caller; the pipeline rents
/// one engine lease for its lifetime of <see cref="RunAsync"/>. <see cref="RunAsync"/> may be called once.</para>
/// </remarks>
public sealed class InferencePipeline
{
    private readonly ISensorSource _source;
    private readonly WindowSpec _spec;
    private readonly InferenceEngine _engine;
    private readonly TelemetryOutbox _outbox;
    private readonly InferencePipelineOptions _options;
    private readonly CloudTier? _cloud;
    private readonly IReadOnlyList<IResultOutput> _outputs;
    private readonly TimeProvider _time;
    private readonly ConfidenceGate _gate;
    private readonly DriftMonitor _drift;
    private readonly SensorPipeline _sensors;
    private readonly long[] _inputShape;
    private readonly string _layout;
    private readonly Channel<OutboxItem> _outboxQueue;
    private readonly Channel<CloudJob> _cloudQueue;
    private readonly Channel<PipelineResult>[] _outputQueues;
    private int _started;
    private Exception? _stageFault;

    /// <exception cref="PipelineConfigurationException">The model does not fit the window spec or labels, or the options are invalid.</exception>
    /// <exception cref="WindowSpecException">The window spec does not fit the source's channels.</exception>
    public InferencePipeline(ISensorSource source, WindowSpec spec, InferenceEngine engine, TelemetryOutbox outbox,
        InferencePipelineOptions options, CloudTier? cloud = null, IReadOnlyList<IResultOutput>? outputs = null,
        ReferenceProfile? reference = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(outbox);
        var problems = new List<string>(options.Validate());
        problems.AddRange(spec.Validate());
        long[] shape = [];
        using (var probe = engine.Rent())
        {
            if (probe.Inputs.Count != 1) problems.Add($"model has {probe.Inputs.Count} inputs; the pipeline feeds exactly one window input");
            if (probe.Outputs.Count < 1) problems.Add("model has no outputs");
            if (problems.Count == 0)
            {
                var input = probe.Inputs[0];
                var output = probe.Outputs[0];
                shape = input.Shape;
                if (input.ElementType != OnnxFormat.OnnxElementType.Float || input.ElementCount != spec.ElementCount)
                    problems.Add($"model input '{input.Name}' is {input}, the window spec gives {spec.ElementCount} float32 values ({spec.Channels.Count} channels × {spec.Length} samples)");
                if (output.ElementType != OnnxFormat.OnnxElementType.Float || output.ElementCount != options.Labels.Count)
                    problems.Add($"model output '{output.Name}' is {output}, but {options.Labels.Count} labels are configured (one float32 probability per label expected)");
            }
        }
        if (problems.Count > 0) throw new PipelineConfigurationException(problems);

        _source = source;
        _spec = spec;
        _engine = engine;
        _outbox = outbox;
        _options = options;
        _cloud = cloud;
        _outputs = outputs ?? [];
        _time = time ?? TimeProvider.System;
        _gate = new ConfidenceGate(options.Gate);
        _drift = new DriftMonitor(options.Model, spec, reference, options.Drift, _time);
        _sensors = new SensorPipeline(source, spec, options.Sensors);
        _inputShape = shape;
        _layout = spec.Layout == WindowLayout.ChannelsFirst ? "channels-first" : "samples-first";
        _outboxQueue = Channel.CreateBounded<OutboxItem>(new BoundedChannelOptions(options.OutboxQueueCapacity)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _cloudQueue = Channel.CreateBounded<CloudJob>(new BoundedChannelOptions(options.CloudQueueCapacity)
        {
            SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _outputQueues = new Channel<PipelineResult>[_outputs.Count];
        for (int i = 0; i < _outputQueues.Length; i++)
        {
            _outputQueues[i] = Channel.CreateBounded<PipelineResult>(new BoundedChannelOptions(options.OutputQueueCapacity)
            {
                SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest,
            }, _ => Counters.CountOutputDropped());
        }
    }

    /// <summary>Live counters (thread-safe); <see cref="PipelineCounters.Progress"/> is the watchdog's liveness signal.</summary>
    public PipelineCounters Counters { get; } = new();

    /// <summary>The sensor source's counters (bad samples, gaps, drops, windows).</summary>
    public SensorStats SensorStats => _source.Stats;

    /// <summary>Runs until the source ends (then drains and returns) or <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="InvalidOperationException">Called a second time.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("InferencePipeline.RunAsync may be called once");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var lease = _engine.Rent();
        var window = new float[_spec.ElementCount];
        var outboxStage = Task.Run(() => GuardAsync(() => OutboxStageAsync(stop.Token), stop), CancellationToken.None);
        var outputStages = new Task[_outputs.Count];
        for (int i = 0; i < outputStages.Length; i++)
        {
            int index = i;
            outputStages[i] = Task.Run(() => GuardAsync(() => OutputStageAsync(index, stop.Token), stop), CancellationToken.None);
        }
        var cloudStages = new Task[_cloud is null ? 0 : _options.CloudWorkers];
        for (int i = 0; i < cloudStages.Length; i++)
            cloudStages[i] = Task.Run(() => GuardAsync(() => CloudStageAsync(stop.Token), stop), CancellationToken.None);

        try
        {
            await _sensors.RunAsync(window, (info, ct) => OnWindowAsync(lease, window, info, ct), stop.Token).ConfigureAwait(false);
            // The source ended: drain in stage order so nothing queued is lost.
            _cloudQueue.Writer.TryComplete();
            await Task.WhenAll(cloudStages).ConfigureAwait(false);
            await QueueDriftSnapshotAsync(stop.Token).ConfigureAwait(false);
            _outboxQueue.Writer.TryComplete();
            foreach (var q in _outputQueues) q.Writer.TryComplete();
            await outboxStage.ConfigureAwait(false);
            await Task.WhenAll(outputStages).ConfigureAwait(false);
            foreach (var output in _outputs) await output.FlushAsync(stop.Token).ConfigureAwait(false);
            if (_stageFault is { } fault) throw new PipelineStageException(fault);
        }
        catch (Exception e) when (e is not PipelineStageException)
        {
            stop.Cancel();
            _cloudQueue.Writer.TryComplete();
            _outboxQueue.Writer.TryComplete();
            foreach (var q in _outputQueues) q.Writer.TryComplete();
            try { await Task.WhenAll([outboxStage, .. outputStages, .. cloudStages]).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            if (_stageFault is { } fault) throw new PipelineStageException(fault);
            throw;
        }
    }

    private async Task GuardAsync(Func<Task> stage, CancellationTokenSource stop)
    {
        try
        {
            await stage().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A stage that cannot continue (e.g. the outbox failed) stops the whole pipeline: running on without
            // telemetry would make the device look healthy while it records nothing.
            Interlocked.CompareExchange(ref _stageFault, e, null);
            stop.Cancel();
        }
    }

    private async ValueTask OnWindowAsync(InferenceLease lease, float[] window, WindowInfo info, CancellationToken ct)
    {
        long ready = _time.GetTimestamp();
        Counters.CountWindow(info.LastWallTime);
        window.AsSpan().CopyTo(lease.Input<float>(0));
        long t0 = _time.GetTimestamp();
        var observer = _options.InferenceObserver;
        try
        {
            lease.Run();
        }
        catch (OnnxRuntimeException e) when (observer is not null && observer.OnInferenceFailed(e))
        {
            return; // the observer judges the failing model (an update on trial); this window has no result
        }
        var inference = _time.GetElapsedTime(t0);
        var probabilities = lease.Output<float>(0);
        observer?.OnInference(window, probabilities, inference);
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[best]) best = i;
        float confidence = probabilities[best];
        string label = _options.Labels[best];

        float ood = _drift.OutOfDistributionScore(window);
        _drift.Add(window, info);
        var escalation = _gate.Decide(confidence, ood);
        var result = new PipelineResult
        {
            Model = _options.Model, Generation = _engine.Generation, Window = info.Sequence, WindowEnd = info.LastWallTime,
            Label = label, Confidence = confidence, LocalLabel = label, LocalConfidence = confidence, OodScore = ood,
            Escalation = escalation, InferenceUs = (long)inference.TotalMicroseconds, WindowReadyTimestamp = ready,
        };

        if (escalation == EscalationReason.None)
        {
            await PublishAsync(result with { DecidedBy = DecidedBy.Local }, ct).ConfigureAwait(false);
        }
        else
        {
            Counters.CountEscalated();
            float[] input = window.ToArray();
            float[] probs = probabilities.ToArray();
            FallbackReason immediate = FallbackReason.None;
            if (_cloud is null) immediate = FallbackReason.CloudDisabled;
            // Queue space first, budget second: a case that cannot be queued must not spend a token. This loop is the
            // only writer and workers only take items out, so the space seen here is still there for TryWrite.
            else if (_cloudQueue.Reader.Count >= _options.CloudQueueCapacity) immediate = FallbackReason.CloudBusy;
            else
            {
                immediate = _cloud.Budget.TryAcquire() switch
                {
                    BudgetDecision.RateLimited => FallbackReason.RateLimited,
                    BudgetDecision.DailyBudgetExhausted => FallbackReason.DailyBudgetExhausted,
                    _ => FallbackReason.None,
                };
                if (immediate == FallbackReason.None && !_cloudQueue.Writer.TryWrite(new CloudJob(result, input, probs)))
                    immediate = FallbackReason.CloudBusy;
            }
            if (immediate != FallbackReason.None)
                await PublishAsync(Fallback(result, immediate, input, probs), ct).ConfigureAwait(false);
        }

        if (_drift.SnapshotDue()) await QueueDriftSnapshotAsync(ct).ConfigureAwait(false);
    }

    private PipelineResult Fallback(PipelineResult local, FallbackReason reason, float[] input, float[] probabilities) => local with
    {
        DecidedBy = DecidedBy.Fallback,
        FallbackReason = reason,
        Case = new FallbackCase
        {
            Model = local.Model, Generation = local.Generation, Window = local.Window, WindowEnd = local.WindowEnd,
            Escalation = local.Escalation, Reason = reason, LocalLabel = local.LocalLabel, LocalConfidence = local.LocalConfidence,
            Probabilities = probabilities, OodScore = local.OodScore, Shape = _inputShape, Layout = _layout,
            Channels = _spec.Channels, Input = input,
        },
    };

    private async Task CloudStageAsync(CancellationToken ct)
    {
        var cloud = _cloud!;
        await foreach (var job in _cloudQueue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            var local = job.Local;
            var request = new CloudInferenceRequest
            {
                DeviceId = cloud.Options.DeviceId, Model = local.Model, Generation = local.Generation, Window = local.Window,
                WindowEnd = local.WindowEnd,
                Reason = local.Escalation == EscalationReason.OutOfDistribution ? "out-of-distribution" : "low-confidence",
                Shape = _inputShape, Layout = _layout, Channels = _spec.Channels, Labels = _options.Labels, Input = job.Input,
                LocalLabel = local.LocalLabel, LocalConfidence = local.LocalConfidence, LocalProbabilities = job.Probabilities,
                DeadlineMs = (int)cloud.Options.Timeout.TotalMilliseconds,
            };
            var outcome = await cloud.AskAsync(request, ct).ConfigureAwait(false);
            var result = outcome.Response is { } answer
                ? local with { DecidedBy = DecidedBy.Cloud, Label = answer.Label!, Confidence = answer.Confidence, CloudModel = answer.Model }
                : Fallback(local, outcome.Reason, job.Input, job.Probabilities);
            await PublishAsync(result, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask PublishAsync(PipelineResult result, CancellationToken ct)
    {
        var decided = _time.GetElapsedTime(result.WindowReadyTimestamp);
        result = result with { LatencyUs = (long)decided.TotalMicroseconds };
        Counters.CountDecision(result.DecidedBy, result.FallbackReason);
        _options.LatencyObserver?.Invoke(new LatencySample(LatencyStage.Decided, result.DecidedBy, decided, TimeSpan.FromMicroseconds(result.InferenceUs)));
        foreach (var q in _outputQueues) q.Writer.TryWrite(result);   // drop-oldest: never blocks
        var item = new OutboxItem(result, null);
        if (_outboxQueue.Writer.TryWrite(item)) return;
        if (result.Case is null)
        {
            Counters.CountTelemetryDropped();   // a slow outbox must not stall inference for plain telemetry
            return;
        }
        await _outboxQueue.Writer.WriteAsync(item, ct).ConfigureAwait(false);   // fallback cases wait
    }

    private async ValueTask QueueDriftSnapshotAsync(CancellationToken ct)
    {
        var snapshots = _drift.TakeSnapshot();
        if (snapshots.Count == 0) return;
        if (!double.IsNaN(_drift.LastScore)) Counters.SetDriftScore(_drift.LastScore);
        foreach (var s in snapshots) await _outboxQueue.Writer.WriteAsync(new OutboxItem(null, s), ct).ConfigureAwait(false);   // never dropped
    }

    private async ValueTask<bool> TryEnqueueAsync(OutboxEvent e, CancellationToken ct)
    {
        try
        {
            await _outbox.EnqueueAsync(e, ct).ConfigureAwait(false);
            return true;
        }
        catch (OutboxException)
        {
            // Full budget of never-dropped events, or the storage itself is full (SQLITE_FULL, ENOSPC).
            Counters.CountOutboxRefused();
            return false;
        }
    }

    private async Task OutboxStageAsync(CancellationToken ct)
    {
        var reader = _outboxQueue.Reader;
        var batch = new List<PipelineResult>(_options.OutboxBatch);
        while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            batch.Clear();
            int events = 0;
            while (events < _options.OutboxBatch && reader.TryRead(out var item))
            {
                events++;
                if (item.Drift is { } drift)
                {
                    byte[] payload = JsonSerializer.SerializeToUtf8Bytes(drift, PipelineJsonContext.Default.DriftWindowSnapshot);
                    // A full outbox (budget of never-dropped events, or no disk left) refuses this snapshot: the
                    // pipeline keeps serving and counts it; the next snapshot carries the accumulators on
                    // (chaos suite, disk-full: an unhandled refusal ended the pipeline for good).
                    if (await TryEnqueueAsync(new OutboxEvent(TelemetryStream.Drift, payload, Timestamp: drift.WindowEnd,
                        MergeKey: $"{drift.Model}/{drift.Feature}"), ct).ConfigureAwait(false))
                        Counters.CountDriftSnapshot();
                    continue;
                }
                var result = item.Result!;
                byte[] telemetry = JsonSerializer.SerializeToUtf8Bytes(result, PipelineJsonContext.Default.PipelineResult);
                if (!await TryEnqueueAsync(new OutboxEvent(TelemetryStream.Telemetry, telemetry, Timestamp: result.WindowEnd), ct).ConfigureAwait(false))
                    continue;
                if (result.Case is { } hardCase)
                {
                    byte[] body = JsonSerializer.SerializeToUtf8Bytes(hardCase, PipelineJsonContext.Default.FallbackCase);
                    if (await TryEnqueueAsync(new OutboxEvent(TelemetryStream.FallbackCase, body, Timestamp: result.WindowEnd), ct).ConfigureAwait(false))
                        Counters.CountCaseQueued();
                }
                batch.Add(result);
            }
            // Group commit: wait for this batch to be durable, meanwhile the next batch queues up. A full disk
            // fails the commit: the batch is counted as refused and serving goes on; the outbox commits again
            // once space returns (the drainer frees it as the broker acknowledges).
            try
            {
                await _outbox.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (OutboxException)
            {
                for (int i = 0; i < batch.Count; i++) Counters.CountOutboxRefused();
                continue;
            }
            Counters.CountCommitted(batch.Count);
            if (_options.LatencyObserver is { } observe)
                foreach (var r in batch)
                    observe(new LatencySample(LatencyStage.Committed, r.DecidedBy, _time.GetElapsedTime(r.WindowReadyTimestamp), TimeSpan.FromMicroseconds(r.InferenceUs)));
        }
    }

    private async Task OutputStageAsync(int index, CancellationToken ct)
    {
        var output = _outputs[index];
        await foreach (var result in _outputQueues[index].Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            try
            {
                await output.WriteAsync(result, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Counters.CountOutputFailure();
            }
        }
    }

    private readonly record struct OutboxItem(PipelineResult? Result, DriftWindowSnapshot? Drift);

    private sealed record CloudJob(PipelineResult Local, float[] Input, float[] Probabilities);
}

/// <summary>A pipeline stage (outbox writer, cloud worker, output pump) failed and stopped the pipeline; the inner exception says why.</summary>
public sealed class PipelineStageException(Exception inner)
    : Exception($"inference pipeline stopped: a stage failed: {inner.Message}", inner);
