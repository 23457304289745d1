namespace EdgeAgent.Hub.Hosting;

public sealed partial record HubOptions
{
    /// <summary>
    /// The online half of <c>edgehub keys init</c> (<c>DIR/online</c>: targets, snapshot, timestamp and
    /// assignments private keys and the signed root). Null: this instance serves published metadata but
    /// cannot sign (publishing answers 503).
    /// </summary>
    public string? TrustDirectory { get; init; }

    /// <summary>Validity of each signed timestamp; re-signed when less than half is left.</summary>
    public TimeSpan TimestampLifetime { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Validity of each signed snapshot; re-signed when less than half is left.</summary>
    public TimeSpan SnapshotLifetime { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Validity of targets and the assignments role; re-signed when less than half is left.</summary>
    public TimeSpan TargetsLifetime { get; init; } = TimeSpan.FromDays(90);

    /// <summary>How often the re-sign loop looks at expiry dates.</summary>
    public TimeSpan ResignInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Bytes of immutable metadata and target files kept in memory for serving.</summary>
    public long ArtifactCacheBytes { get; init; } = 256L * 1024 * 1024;

    partial void ValidateReleases(List<string> problems)
    {
        if (TrustDirectory is not null && !Directory.Exists(TrustDirectory))
            problems.Add($"--trust-dir '{TrustDirectory}' does not exist; create keys with 'edgehub keys init --out DIR' and pass DIR/online");
        foreach (var (name, value) in new[] { ("--timestamp-expiry", TimestampLifetime), ("--snapshot-expiry", SnapshotLifetime), ("--targets-expiry", TargetsLifetime) })
            if (value < TimeSpan.FromMinutes(1)) problems.Add($"{name} {value} must be at least one minute");
        if (ResignInterval <= TimeSpan.Zero) problems.Add($"--resign-interval {ResignInterval} must be positive");
        else if (ResignInterval * 2 >= TimestampLifetime)
            problems.Add($"--resign-interval {ResignInterval} must be under half of --timestamp-expiry {TimestampLifetime}, or timestamps can expire between checks");
        if (ArtifactCacheBytes < 0) problems.Add("--artifact-cache-bytes must be 0 (no cache) or positive");
    }
}
