namespace EdgeAgent.Hub.Storage;

public abstract partial class SqlHubStore
{
    /// <remarks>
    /// Events of all items go to <see cref="InsertEventsAsync"/> in one call (one statement on PostgreSQL, one
    /// prepared command on SQLite), so a batch of 1-event messages costs one commit instead of one per message
    /// (docs/bench/hub.md, "Batched ingest").
    /// </remarks>
    public async Task<IReadOnlyList<IngestItemWritten>> StoreIngestBatchAsync(IReadOnlyList<IngestBatchItem> items, DateTimeOffset receivedAt, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) return [];
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);

        var events = new List<StoredEvent>();
        foreach (var item in items) events.AddRange(item.Events);
        var stored = new bool[events.Count];
        if (events.Count > 0) await InsertEventsAsync(c, tx, events, Now(), stored, ct);

        var written = new IngestItemWritten[items.Count];
        int next = 0;
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            int inserted = 0, gaps = 0, windows = 0, updates = 0;
            for (int k = 0; k < item.Events.Count; k++) if (stored[next++]) inserted++;
            foreach (var g in item.Gaps) gaps += await InsertGapAsync(c, tx, g, ct);
            foreach (var w in item.DriftWindows) windows += await InsertDriftWindowAsync(c, tx, w, ct);
            foreach (var u in item.Updates) updates += await ApplyUpdateEventAsync(c, tx, u, receivedAt, ct);
            foreach (var r in item.Rejections) await InsertRejectedAsync(c, tx, r.Topic, r.Reason, r.Payload, r.At, ct);
            written[i] = new IngestItemWritten(inserted, gaps, windows, updates);
        }
        await tx.CommitAsync(ct);
        return written;
    }
}
