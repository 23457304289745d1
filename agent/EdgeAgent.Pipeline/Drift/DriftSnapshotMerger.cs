using System.Text.Json;
using EdgeAgent.Outbox.Drift;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Pipeline.Drift;

/// <summary>
/// Lets the outbox merge stored <see cref="DriftWindowSnapshot"/>s (JSON) when it runs out of disk budget
/// (drift is never dropped, DESIGN.md §7): KLL sketches merged with their weights, moments combined exactly
/// (Chan et al.), non-finite counters summed, the window widened to cover all inputs. The merged window carries
/// no score (a score of a merged window is not the combination of the parts; the hub recomputes it).
/// Binary windows (a bare KLL sketch) are passed to <see cref="KllDriftMerger"/>. Pass one instance to
/// <c>TelemetryOutbox.OpenAsync(options, driftMerger: ...)</c>.
/// </summary>
/// <remarks>Refuses (returns null) mixed formats, different models/features, or anything malformed, so the outbox
/// leaves those windows untouched. Not thread-safe; the outbox calls it from its writer task.</remarks>
public sealed class DriftSnapshotMerger(Random? random = null) : IDriftMerger
{
    private readonly Random _random = random ?? new Random();
    private readonly KllDriftMerger _binary = new(random);

    public byte[]? Merge(string mergeKey, IReadOnlyList<DriftWindow> windows)
    {
        if (windows.Count < 2) return null;
        if (windows.All(w => w.Format == PayloadFormat.Binary)) return _binary.Merge(mergeKey, windows);
        if (windows.Any(w => w.Format != PayloadFormat.Json)) return null;
        try
        {
            DriftWindowSnapshot? merged = null;
            KllFloatsSketch? sketch = null;
            RunningMoments moments = default;
            foreach (var w in windows)
            {
                var s = JsonSerializer.Deserialize(w.Payload.Span, PipelineJsonContext.Default.DriftWindowSnapshot);
                if (s is null || s.Schema != "edgeagent.drift.window/1") return null;
                var part = KllFloatsSketch.Deserialize(Convert.FromBase64String(s.Kll), _random);
                var partMoments = new RunningMoments(s.Count, s.Mean, s.M2);
                if (merged is null)
                {
                    merged = s;
                    sketch = part;
                    moments = partMoments;
                    continue;
                }
                if (s.Model != merged.Model || s.Feature != merged.Feature) return null;
                sketch!.Merge(part);
                moments = moments.Merge(partMoments);
                merged = merged with
                {
                    WindowStart = s.WindowStart < merged.WindowStart ? s.WindowStart : merged.WindowStart,
                    WindowEnd = s.WindowEnd > merged.WindowEnd ? s.WindowEnd : merged.WindowEnd,
                    NaN = merged.NaN + s.NaN,
                    PositiveInfinity = merged.PositiveInfinity + s.PositiveInfinity,
                    NegativeInfinity = merged.NegativeInfinity + s.NegativeInfinity,
                };
            }
            merged = merged! with
            {
                Count = moments.Count, Mean = moments.Mean, M2 = moments.M2, StdDev = moments.PopulationStandardDeviation,
                K = sketch!.K, Kll = Convert.ToBase64String(sketch.ToByteArray()), Score = null,
            };
            return JsonSerializer.SerializeToUtf8Bytes(merged, PipelineJsonContext.Default.DriftWindowSnapshot);
        }
        catch (Exception e) when (e is JsonException or FormatException or KllFormatException)
        {
            return null;
        }
    }
}
