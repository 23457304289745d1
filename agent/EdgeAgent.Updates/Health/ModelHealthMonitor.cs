using System.Threading.Channels;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Updates.Health;

/// <summary>One live inference as seen by the pipeline (copied for the shadow run).</summary>
public sealed record LiveSample(float[] Input, float[] Output);

/// <summary>Health figures of one window of live inferences.</summary>
/// <param name="InputSketches">Per input feature (window channel), the KLL sketch (DataSketches binary form) of the
/// window's input values, when <see cref="ModelHealthMonitor.TrackInputs"/> is on; null otherwise.</param>
public sealed record HealthSnapshot(
    long Calls,
    long Failures,
    double P99Ms,
    double DominantClassShare,
    int DominantClass,
    double LowConfidenceShare,
    TimeSpan Elapsed,
    byte[][]? InputSketches = null)
{
    public double ErrorRate => Calls + Failures == 0 ? 0 : (double)Failures / (Calls + Failures);
}

/// <summary>
/// Collects the health of the serving model from the inference pipeline: the pipeline calls
/// <see cref="Record"/> after every inference (latency + output probabilities) and
/// <see cref="RecordFailure"/> on a failed call. The update manager starts a new window at
/// activation (<see cref="StartWindow"/>, keeping the old model's window as baseline) and judges
/// it when the health window ends. While a shadow run is attached, inputs and outputs are copied to
/// it through a bounded channel that drops when full, so the serving path never waits.
/// Thread safe; <see cref="Record"/> takes a short lock and allocates only while shadowing, or, with
/// <see cref="TrackInputs"/> on, when a KLL sketch compacts (amortised, a few times per thousand values).
/// </summary>
public sealed class ModelHealthMonitor(TimeProvider? time = null, int latencySamples = 4096)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly double[] _latencies = new double[latencySamples];
    private long _calls, _failures, _lowConfidence;
    private long[] _classCounts = [];
    private long _windowStart = (time ?? TimeProvider.System).GetTimestamp();
    private double _confidenceThreshold;
    private ChannelWriter<LiveSample>? _shadow;
    private int _inputChannels;
    private bool _channelsFirst;
    private KllFloatsSketch[]? _inputs;

    /// <summary>
    /// Sketches the model input per feature (window channel) in every window from now on, so
    /// <see cref="HealthPolicy.MaxInputPsi"/> can compare a new model's inputs with the previous model's.
    /// <paramref name="channels"/> 0 turns it off. Takes effect at the next <see cref="StartWindow"/>.
    /// </summary>
    public void TrackInputs(int channels, bool channelsFirst = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        lock (_gate)
        {
            _inputChannels = channels;
            _channelsFirst = channelsFirst;
            _inputs ??= channels > 0 ? NewSketches(channels) : null;
        }
    }

    private static KllFloatsSketch[] NewSketches(int channels)
    {
        var sketches = new KllFloatsSketch[channels];
        for (var i = 0; i < channels; i++) sketches[i] = new KllFloatsSketch();
        return sketches;
    }

    /// <summary>Starts a new window (e.g. at activation) and returns the closing one.</summary>
    public HealthSnapshot StartWindow(double confidenceThreshold)
    {
        lock (_gate)
        {
            var closing = SnapshotLocked();
            _calls = _failures = _lowConfidence = 0;
            _classCounts = [];
            _inputs = _inputChannels > 0 ? NewSketches(_inputChannels) : null;
            _confidenceThreshold = confidenceThreshold;
            _windowStart = _time.GetTimestamp();
            return closing;
        }
    }

    public HealthSnapshot Snapshot()
    {
        lock (_gate) return SnapshotLocked();
    }

    /// <summary>One successful inference: its latency and its output probabilities (one window).</summary>
    public void Record(ReadOnlySpan<float> input, ReadOnlySpan<float> probabilities, TimeSpan latency)
    {
        var top = 0;
        for (var i = 1; i < probabilities.Length; i++)
            if (probabilities[i] > probabilities[top]) top = i;
        var confidence = probabilities.IsEmpty ? 0 : probabilities[top];
        ChannelWriter<LiveSample>? shadow;
        lock (_gate)
        {
            _latencies[_calls % _latencies.Length] = latency.TotalMilliseconds;
            _calls++;
            if (_classCounts.Length < probabilities.Length) Array.Resize(ref _classCounts, probabilities.Length);
            if (!probabilities.IsEmpty) _classCounts[top]++;
            if (confidence < _confidenceThreshold) _lowConfidence++;
            if (_inputs is { } inputs) AddInput(inputs, input);
            shadow = _shadow;
        }
        shadow?.TryWrite(new LiveSample(input.ToArray(), probabilities.ToArray()));
    }

    private void AddInput(KllFloatsSketch[] sketches, ReadOnlySpan<float> input)
    {
        int channels = sketches.Length, length = input.Length / channels;
        for (var c = 0; c < channels; c++)
        {
            var sketch = sketches[c];
            for (var i = 0; i < length; i++)
            {
                var v = _channelsFirst ? input[c * length + i] : input[i * channels + c];
                if (float.IsFinite(v)) sketch.Update(v);
            }
        }
    }

    public void RecordFailure()
    {
        lock (_gate) _failures++;
    }

    /// <summary>Routes copies of live samples to a shadow run until <see cref="DetachShadow"/>.</summary>
    public ChannelReader<LiveSample> AttachShadow(int capacity = 256)
    {
        var channel = Channel.CreateBounded<LiveSample>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        lock (_gate) _shadow = channel.Writer;
        return channel.Reader;
    }

    public void DetachShadow()
    {
        lock (_gate)
        {
            _shadow?.TryComplete();
            _shadow = null;
        }
    }

    private HealthSnapshot SnapshotLocked()
    {
        var n = (int)Math.Min(_calls, _latencies.Length);
        var lat = _latencies.AsSpan(0, n).ToArray();
        Array.Sort(lat);
        var dominant = 0;
        for (var i = 1; i < _classCounts.Length; i++)
            if (_classCounts[i] > _classCounts[dominant]) dominant = i;
        var share = _calls == 0 || _classCounts.Length == 0 ? 0 : (double)_classCounts[dominant] / _calls;
        return new HealthSnapshot(_calls, _failures, Validation.BundleValidator.Percentile(lat, 0.99), share, dominant,
            _calls == 0 ? 0 : (double)_lowConfidence / _calls, _time.GetElapsedTime(_windowStart),
            _inputs?.Select(k => k.ToByteArray()).ToArray());
    }
}

/// <summary>When a new model is judged unhealthy in its health window (compared with the old model's baseline window).</summary>
public sealed record HealthPolicy
{
    /// <summary>Length of the health window.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Live inferences needed before a verdict; without them the window is extended up to <see cref="MaxWindow"/>.</summary>
    public long MinCalls { get; init; } = 200;

    /// <summary>Longest observation; after it a model without enough traffic is committed (and the event says so).</summary>
    public TimeSpan MaxWindow { get; init; } = TimeSpan.FromHours(1);

    public double MaxErrorRate { get; init; } = 0.01;

    /// <summary>p99 may exceed the manifest budget by this factor before it counts as blown.</summary>
    public double LatencyBudgetFactor { get; init; } = 1.0;

    /// <summary>A single class taking at least this share of predictions is a collapse (unless the old model did the same).</summary>
    public double CollapseShare { get; init; } = 0.97;

    /// <summary>Share of predictions under the confidence threshold that counts as a confidence collapse...</summary>
    public double MaxLowConfidenceShare { get; init; } = 0.6;

    /// <summary>...when also this much above the old model's share.</summary>
    public double LowConfidenceMargin { get; init; } = 0.3;

    /// <summary>
    /// Largest population stability index of any input feature between the new model's window and the previous
    /// model's window (DESIGN §7 bins, 0.25 = "significant" by convention); null (default) = drift is not a
    /// rollback criterion. Needs <see cref="ModelHealthMonitor.TrackInputs"/>. Comparing with the previous
    /// model's window, not the training profile, means drift the data already had before activation never
    /// counts: only a shift that appears with the new model does (see the README for when that is meaningful).
    /// </summary>
    public double? MaxInputPsi { get; init; }

    /// <summary>How often the window is checked (an obvious failure rolls back before the window ends).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Returns a refusal when <paramref name="now"/> is unhealthy, else null.</summary>
    public UpdateRefusedException? Judge(HealthSnapshot now, HealthSnapshot baseline, double latencyBudgetMs)
    {
        if (now.Calls + now.Failures < MinCalls) return null;
        if (now.ErrorRate > MaxErrorRate)
            return new(UpdateRefusal.HealthErrors, $"{now.Failures} of {now.Calls + now.Failures} live inferences failed ({now.ErrorRate:P1}, limit {MaxErrorRate:P1}).");
        if (now.P99Ms > latencyBudgetMs * LatencyBudgetFactor)
            return new(UpdateRefusal.HealthLatency, $"p99 latency on live data is {now.P99Ms:0.###} ms, above the {latencyBudgetMs:0.###} ms budget.");
        var baselineCollapsed = baseline.Calls >= MinCalls && baseline.DominantClassShare >= CollapseShare;
        if (now.DominantClassShare >= CollapseShare && !baselineCollapsed)
            return new(UpdateRefusal.HealthCollapse,
                $"outputs collapsed: class {now.DominantClass} took {now.DominantClassShare:P1} of {now.Calls} live predictions (the previous model's top class had {baseline.DominantClassShare:P1}).");
        if (now.LowConfidenceShare > MaxLowConfidenceShare && now.LowConfidenceShare > baseline.LowConfidenceShare + LowConfidenceMargin)
            return new(UpdateRefusal.HealthConfidence,
                $"confidence collapsed: {now.LowConfidenceShare:P1} of live predictions are under the threshold (previous model {baseline.LowConfidenceShare:P1}).");
        if (MaxInputPsi is { } maxPsi && baseline.Calls >= MinCalls && WorstInputPsi(now, baseline) is ({ } feature, var psi) && psi > maxPsi)
            return new(UpdateRefusal.HealthDrift,
                $"live inputs shifted after activation: input feature {feature} has PSI {psi:0.###} against the previous model's window (limit {maxPsi:0.###}); the new model changes what it is fed (closed loop or preprocessing).");
        return null;
    }

    /// <summary>
    /// Names the enabled criteria that <see cref="Judge"/> could not apply because the previous model's window
    /// (<paramref name="baseline"/>, closed at activation) holds fewer than <see cref="MinCalls"/> live inferences;
    /// null when every enabled criterion had its evidence. Today that is only <see cref="MaxInputPsi"/>: drift is
    /// measured <em>against</em> the baseline, so a thin baseline means no drift verdict at all. (The collapse
    /// check also reads the baseline, but a thin one only removes its excuse, so it still rolls back.)
    /// Extending the new model's window cannot help here — the old model's window ended when it stopped serving —
    /// so the update manager commits as before and states in the commit reason which criterion went unjudged,
    /// instead of committing as if the model had passed it.
    /// </summary>
    public string? Unjudged(HealthSnapshot baseline) =>
        MaxInputPsi is { } maxPsi && baseline.Calls < MinCalls
            ? $"input drift (PSI limit {maxPsi:0.###}) was not judged: the previous model's window before activation had only {baseline.Calls} live inferences (fewer than {MinCalls}) to compare with."
            : null;

    /// <summary>The feature with the largest PSI of <paramref name="now"/> against <paramref name="baseline"/> (the reference), or null when either has no sketches.</summary>
    public static (int? Feature, double Psi) WorstInputPsi(HealthSnapshot now, HealthSnapshot baseline)
    {
        if (now.InputSketches is not { } current || baseline.InputSketches is not { } reference || current.Length != reference.Length) return (null, 0);
        int? worst = null;
        double max = 0;
        for (var f = 0; f < current.Length; f++)
        {
            var r = KllFloatsSketch.Deserialize(reference[f]);
            var c = KllFloatsSketch.Deserialize(current[f]);
            if (r.IsEmpty || c.IsEmpty) continue;
            var psi = DriftMetrics.PopulationStabilityIndex(r.GetSortedView(), c.GetSortedView()).Value;
            if (worst is null || psi > max) (worst, max) = (f, psi);
        }
        return (worst, max);
    }
}
