using EdgeAgent.Outbox.Queue;

namespace EdgeAgent.Outbox.Drift;

/// <summary>A stored drift window handed to <see cref="IDriftMerger"/>.</summary>
public readonly record struct DriftWindow(long Seq, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Payload, PayloadFormat Format, int MergedCount);

/// <summary>
/// Merges older drift windows into one coarser window when the outbox runs out of budget (drift is
/// never dropped, DESIGN.md §7). Supplied by the caller because the payload format (e.g. a KLL
/// sketch, shared/EdgeAgent.Sketches) is not the outbox's business.
/// </summary>
/// <remarks>
/// Called on the outbox writer task, one call at a time; it should be fast (it runs inside the
/// writer's loop) and must not call back into the outbox.
/// </remarks>
public interface IDriftMerger
{
    /// <summary>
    /// Merges <paramref name="windows"/> (same key and boot, oldest first, at least two) into one
    /// payload in the format of the newest window. Return null to refuse (e.g. incompatible
    /// sketches); the outbox then leaves them as they are. Throwing is treated like refusing and logged.
    /// </summary>
    byte[]? Merge(string mergeKey, IReadOnlyList<DriftWindow> windows);
}
