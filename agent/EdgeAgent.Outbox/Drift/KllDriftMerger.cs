using EdgeAgent.Outbox.Queue;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Outbox.Drift;

/// <summary>
/// Merges drift windows whose payload is one KLL float sketch in the Apache DataSketches compact
/// format (<see cref="PayloadFormat.Binary"/>, DESIGN.md §7). The merged sketch keeps every item's
/// weight, so N, min and max stay exact and the rank error stays within the bound of the smallest K.
/// </summary>
/// <remarks>
/// Refuses (returns null) when a window is not binary or not a valid sketch: the outbox then leaves
/// those windows untouched rather than guessing. Not thread-safe; the outbox calls it from its writer task.
/// </remarks>
public sealed class KllDriftMerger : IDriftMerger
{
    private readonly Random _random;

    /// <param name="random">Compaction randomness; a seeded instance makes merges reproducible.</param>
    public KllDriftMerger(Random? random = null) => _random = random ?? new Random();

    public byte[]? Merge(string mergeKey, IReadOnlyList<DriftWindow> windows)
    {
        if (windows.Count < 2 || windows.Any(w => w.Format != PayloadFormat.Binary)) return null;
        KllFloatsSketch? merged = null;
        try
        {
            foreach (var w in windows)
            {
                var sketch = KllFloatsSketch.Deserialize(w.Payload.Span, _random);
                if (merged is null) merged = sketch;
                else merged.Merge(sketch);
            }
        }
        catch (KllFormatException)
        {
            return null;
        }
        return merged!.ToByteArray();
    }
}
