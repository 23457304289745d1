using EdgeAgent.Outbox.Queue;

namespace EdgeAgent.Outbox.Budget;

/// <summary>
/// Splits the byte budget (database pages + WAL) into a hard database cap, enforced by SQLite with
/// <c>PRAGMA max_page_count</c> (so an overrun is a real SQLITE_FULL, never a silent overshoot), and
/// a WAL allowance, enforced by checkpointing with TRUNCATE once the WAL passes half of it, and a
/// ballast file (<c>outbox.db.reserve</c>) that is deleted when the file system itself is full so
/// the checkpoint and the deletes that make room have disk blocks to work with.
/// </summary>
internal sealed record DiskBudget(long TotalBytes, long DatabaseBytes, long WalBytes, long BallastBytes, int PageSize)
{
    /// <summary>Hard page limit of the database file (the whole database allowance).</summary>
    public long MaxPageCount => DatabaseBytes / PageSize;

    /// <summary>
    /// Pages kept back from ordinary appends so that tombstones can still be written when the
    /// budget is full of events that are never dropped.
    /// </summary>
    public long ReservePages => Math.Max(4, Math.Min(16, MaxPageCount / 32));

    /// <summary><c>max_page_count</c> for ordinary transactions.</summary>
    public long DataPageLimit => MaxPageCount - ReservePages;

    /// <summary>Bytes ordinary appends may use; the drop watermarks are fractions of this.</summary>
    public long DataBytes => DataPageLimit * PageSize;

    /// <summary>WAL size at which the writer checkpoints with TRUNCATE after a commit.</summary>
    public long WalCheckpointBytes => WalBytes / 2;

    /// <summary>Largest group commit payload: an eighth of the WAL allowance, so one group's frames
    /// (payload + index and overflow pages, page headers) cannot push the WAL from the checkpoint
    /// threshold past its allowance.</summary>
    public int MaxGroupBytes => (int)Math.Min(int.MaxValue, WalBytes / 8);

    public static DiskBudget Create(long totalBytes, int pageSize)
    {
        if (totalBytes < OutboxOptions.MinimumBudgetBytes)
            throw new OutboxConfigurationException(
                $"outbox budget {totalBytes} bytes is below the minimum {OutboxOptions.MinimumBudgetBytes} bytes; raise Outbox:BudgetBytes " +
                "(or free disk space: the default budget is 10 % of the free space)");
        var wal = Math.Clamp(totalBytes / 8, 128 * 1024, 16L * 1024 * 1024);
        var ballast = Math.Clamp(wal / 4, 64 * 1024, 2L * 1024 * 1024);
        var db = (totalBytes - wal - ballast) / pageSize * pageSize;
        return new DiskBudget(totalBytes, db, totalBytes - db - ballast, ballast, pageSize);
    }

    /// <summary>min(256 MB, 10 % of free space of the file system holding <paramref name="databasePath"/>), at least the minimum.</summary>
    public static long DefaultBytes(string databasePath)
    {
        var free = FreeBytes(databasePath);
        return Math.Max(OutboxOptions.MinimumBudgetBytes, Math.Min(OutboxOptions.DefaultBudgetCapBytes, free / 10));
    }

    /// <summary>Free bytes for unprivileged users on the file system of <paramref name="path"/>.</summary>
    public static long FreeBytes(string path)
    {
        var full = Path.GetFullPath(path);
        DriveInfo? best = null;
        foreach (var d in DriveInfo.GetDrives())
        {
            var root = d.RootDirectory.FullName;
            if (!full.StartsWith(root, StringComparison.Ordinal)) continue;
            if (root.Length > 1 && full.Length > root.Length && full[root.Length] != '/' && !root.EndsWith('/')) continue;
            if (best is null || root.Length > best.RootDirectory.FullName.Length) best = d;
        }
        try
        {
            return best?.AvailableFreeSpace ?? 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
