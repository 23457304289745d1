namespace EdgeAgent.FleetSim.Devices;

/// <summary>One group commit of a device's outbox: seqs <c>First..Last</c> of boot <c>BootId</c> became durable at <c>AtMs</c> (Unix ms).</summary>
public sealed record CommitRecord(string BootId, long First, long Last, int Dropped, long AtMs);

/// <summary>
/// What a device's outbox made durable, and when: the ground truth the hub store is checked against
/// (exactly once) and the start of the ingest lag (commit on the device → row in the hub store).
/// </summary>
/// <remarks>Thread-safe: the outbox writer task appends, the worker reads after the device stopped.</remarks>
public sealed class CommitLog(TimeProvider time)
{
    private readonly List<CommitRecord> _records = [];
    private readonly Lock _gate = new();

    /// <summary>Handler for <c>TelemetryOutbox.Committed</c>; cheap (runs on the outbox writer).</summary>
    public void Record(string bootId, long first, long last, int dropped)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate) _records.Add(new CommitRecord(bootId, first, last, dropped, now));
    }

    public IReadOnlyList<CommitRecord> Snapshot()
    {
        lock (_gate) return _records.ToArray();
    }
}
