namespace EdgeAgent.Updates.State;

/// <summary>
/// The persisted state of the update in progress (<c>update.json</c>), rewritten atomically at
/// every transition and download checkpoint. Length and hashes were copied from TUF targets
/// metadata that was verified when the download began; local disk is trusted storage.
/// </summary>
public sealed class UpdateRecord
{
    public UpdatePhase Phase { get; set; }
    public string Family { get; set; } = "";
    public string TargetPath { get; set; } = "";
    public string Version { get; set; } = "";
    public long TargetLength { get; set; }
    public Dictionary<string, string> TargetHashes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Where the bundle is fetched from (consistent-snapshot name resolved when the update began).</summary>
    public string DownloadUrl { get; set; } = "";

    /// <summary>Bytes of the <c>.part</c> file known to be on disk (fsync'ed); a resume truncates to this.</summary>
    public long DownloadCheckpoint { get; set; }

    /// <summary>Release counter from the manifest once verified (0 before).</summary>
    public long ReleaseCounter { get; set; }

    /// <summary>Slot the new release goes to (set when validation passed).</summary>
    public string? TargetSlot { get; set; }

    /// <summary>The previous model's health window at activation (compared with the new model's).</summary>
    public Health.HealthSnapshot? Baseline { get; set; }

    public string? Reason { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Download restarts from zero (hash mismatch, Range refused); bounded.</summary>
    public int DownloadRestarts { get; set; }
}

/// <summary>Per-family installed state (<c>slots.json</c>): which slot serves, what it holds, the release-counter floor.</summary>
public sealed class SlotPointer
{
    /// <summary>"a" or "b".</summary>
    public string Active { get; set; } = "a";

    /// <summary>The slot kept for rollback, or null.</summary>
    public string? Previous { get; set; }

    public string ActiveVersion { get; set; } = "";
    public long ActiveReleaseCounter { get; set; }

    /// <summary>True once the active release passed its health window (or was installed by the operator).</summary>
    public bool ActiveCommitted { get; set; }

    /// <summary>Highest release counter ever committed for this family: never decreases (Uptane).</summary>
    public long ReleaseCounterFloor { get; set; }

    /// <summary>SHA-256 of bundles refused or rolled back, so the same bytes are not retried in a loop.</summary>
    public List<string> Rejected { get; set; } = [];
}
