using System.Text.Json;
using EdgeAgent.Hosting.Metrics;
using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// What <c>edgeagent drift show</c> reports: per input feature, the newest drift snapshot of the running
/// pipeline's drift monitor (count, mean, standard deviation, PSI with its band, KS, normalized W1, verdict) and
/// the PSI of the last <see cref="HistoryLength"/> snapshots for a sparkline. Also mirrors the scores into the
/// <c>edgeagent_drift_score</c> gauges.
/// </summary>
/// <remarks>Thread-safe: <see cref="OnSnapshot"/> runs on the inference loop, <see cref="ToJson"/> on a control
/// connection; one lock, held only to copy.</remarks>
internal sealed class DriftView(string model, bool hasReference, AgentMetrics metrics)
{
    public const int HistoryLength = 32;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DriftWindowSnapshot Last, Queue<double> Psi)> _features = new(StringComparer.Ordinal);
    private long _snapshots;
    private volatile bool _anyDrifted;

    /// <summary>True when any feature's newest snapshot was judged drifted (for the retained status' health).</summary>
    public bool AnyDrifted => _anyDrifted;

    /// <summary>The drift monitor's snapshot hook.</summary>
    public void OnSnapshot(IReadOnlyList<DriftWindowSnapshot> snapshots)
    {
        lock (_gate)
        {
            _snapshots++;
            foreach (var s in snapshots)
            {
                if (!_features.TryGetValue(s.Feature, out var entry)) entry = (s, new Queue<double>());
                entry.Last = s;
                if (s.Score is { } score)
                {
                    entry.Psi.Enqueue(score.Psi);
                    while (entry.Psi.Count > HistoryLength) entry.Psi.Dequeue();
                }
                _features[s.Feature] = entry;
            }
            _anyDrifted = _features.Values.Any(f => f.Last.Score?.Drifted == true);
        }
        foreach (var s in snapshots)
        {
            if (s.Score is not { } score) continue;
            metrics.DriftScore.WithLabels(model, s.Feature, "psi").Set(score.Psi);
            metrics.DriftScore.WithLabels(model, s.Feature, "ks").Set(score.Ks);
            metrics.DriftScore.WithLabels(model, s.Feature, "w1").Set(score.NormalizedW1);
        }
    }

    public JsonElement ToJson() => AgentControlCommands.Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteBoolean("referenceProfile", hasReference);
        lock (_gate)
        {
            w.WriteNumber("snapshots", _snapshots);
            w.WriteStartArray("features");
            foreach (var (name, (last, psi)) in _features.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("feature", name);
                w.WriteString("windowStart", last.WindowStart);
                w.WriteString("windowEnd", last.WindowEnd);
                w.WriteNumber("count", last.Count);
                w.WriteNumber("mean", Finite(last.Mean));
                w.WriteNumber("stdDev", Finite(last.StdDev));
                w.WriteNumber("nonFinite", last.NaN + last.PositiveInfinity + last.NegativeInfinity);
                if (last.Score is { } s)
                {
                    w.WriteNumber("psi", Finite(s.Psi));
                    w.WriteString("psiBand", s.PsiBand);
                    w.WriteNumber("ks", Finite(s.Ks));
                    w.WriteBoolean("ksRejects", s.KsRejects);
                    w.WriteNumber("w1", Finite(s.NormalizedW1));
                    w.WriteBoolean("sufficientData", s.SufficientData);
                    w.WriteBoolean("drifted", s.Drifted);
                }
                else w.WriteNull("psi");
                w.WriteStartArray("psiHistory");
                foreach (double v in psi) w.WriteNumberValue(Finite(v));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    });

    // JSON has no NaN/Infinity; a feature with no usable data reports 0 and its count says why.
    private static double Finite(double v) => double.IsFinite(v) ? v : 0;
}
