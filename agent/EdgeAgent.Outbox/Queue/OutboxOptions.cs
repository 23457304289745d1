namespace EdgeAgent.Outbox.Queue;

/// <summary>SQLite <c>synchronous</c> level for the outbox (REFERENCE.md "SQLite as a durable queue").</summary>
public enum OutboxDurability
{
    /// <summary><c>synchronous=FULL</c>: the WAL is fsynced on every commit; survives power loss. Default.</summary>
    Full,

    /// <summary><c>synchronous=NORMAL</c>: survives process crashes; a power cut may lose the last commits.</summary>
    Normal,
}

/// <summary>What the outbox checks when it opens an existing database.</summary>
public enum StartupCheck
{
    /// <summary><c>PRAGMA quick_check</c>: reads every page, skips index cross-checks. Default.</summary>
    Quick,

    /// <summary><c>PRAGMA integrity_check</c>: slower, complete.</summary>
    Full,

    /// <summary>Only what opening and reading the schema reveals (garbage header, wrong file).</summary>
    None,
}

/// <summary>Settings of <see cref="TelemetryOutbox"/>. Validated by <see cref="TelemetryOutbox.OpenAsync"/>.</summary>
public sealed record OutboxOptions
{
    /// <summary>Database file, e.g. <c>/var/lib/edgeagent/outbox.db</c>. Its directory must exist.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>
    /// Disk budget in bytes for database pages + WAL. Null = min(256 MB, 10 % of the free space of
    /// the file system holding the database, measured at open), at least <see cref="MinimumBudgetBytes"/>.
    /// </summary>
    public long? BudgetBytes { get; init; }

    /// <summary>Smallest accepted budget: below this the WAL and one group commit do not fit.</summary>
    public const long MinimumBudgetBytes = 512 * 1024;

    /// <summary>Largest default budget.</summary>
    public const long DefaultBudgetCapBytes = 256L * 1024 * 1024;

    public OutboxDurability Durability { get; init; } = OutboxDurability.Full;

    /// <summary>
    /// A group commit closes after this many events ... (5000 by default: under a burst, 100-event
    /// groups spend most of their time in fsync and in rewriting the same last table/index pages to
    /// the WAL, ≈ 0.3× the CPU efficiency of a raw bulk insert on the build machine; 1000-event
    /// groups ≈ 0.6×, 5000 ≈ 0.64× — docs/bench/outbox.md. At low rates groups stay small anyway,
    /// because <see cref="CommitWindow"/> bounds the wait, and <see cref="MaxGroupBytes"/> caps
    /// the transaction size.)
    /// </summary>
    public int MaxGroupEvents { get; init; } = 5000;

    /// <summary>... or this many payload bytes (further capped to a quarter of the WAL allowance) ...</summary>
    public int MaxGroupBytes { get; init; } = 1024 * 1024;

    /// <summary>... or when this much time passed since its first event with nothing more queued. Zero = commit as soon as the queue is empty.</summary>
    public TimeSpan CommitWindow { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Largest payload accepted by append.</summary>
    public int MaxPayloadBytes { get; init; } = 64 * 1024;

    /// <summary>Events waiting for the writer; appends wait (back-pressure) when it is full.</summary>
    public int QueueCapacity { get; init; } = 16_384;

    /// <summary>Events dropped per step when making room (oldest droppable events first).</summary>
    public int DropBatchEvents { get; init; } = 512;

    /// <summary>Fraction of the database allowance at which dropping starts ...</summary>
    public double DropHighWatermark { get; init; } = 0.90;

    /// <summary>... and the fraction it drops down to.</summary>
    public double DropLowWatermark { get; init; } = 0.80;

    /// <summary>Drift windows merged into one per merge step (at least 2).</summary>
    public int DriftMergeFanIn { get; init; } = 4;

    public StartupCheck StartupCheck { get; init; } = StartupCheck.Quick;
}
