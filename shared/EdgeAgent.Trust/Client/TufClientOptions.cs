namespace EdgeAgent.Trust.Client;

/// <summary>Configuration of a <see cref="TufClient"/>. Defaults follow python-tuf's <c>UpdaterConfig</c>.</summary>
public sealed record TufClientOptions
{
    /// <summary>Directory with the trusted <c>&lt;role&gt;.json</c> files and the state file.</summary>
    public required string MetadataDirectory { get; init; }

    /// <summary>Base URL of the metadata (e.g. <c>http://hub/tuf/metadata/</c>).</summary>
    public required Uri MetadataBaseUri { get; init; }

    /// <summary>Base URL of the targets; required only to download.</summary>
    public Uri? TargetBaseUri { get; init; }

    public long RootMaxLength { get; init; } = 512_000;
    public long TimestampMaxLength { get; init; } = 16_384;
    public long SnapshotMaxLength { get; init; } = 2_000_000;
    public long TargetsMaxLength { get; init; } = 5_000_000;

    /// <summary>Upper bound of root versions fetched in one refresh (TUF §5.3.3).</summary>
    public int MaxRootRotations { get; init; } = 256;

    /// <summary>Upper bound of targets roles visited in one target search (TUF §5.6.7).</summary>
    public int MaxDelegations { get; init; } = 32;

    /// <summary>Deadline for one metadata file.</summary>
    public TimeSpan MetadataDeadline { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Deadline for one target file (bundles can be large on slow links).</summary>
    public TimeSpan TargetDeadline { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Average throughput a transfer must keep after <see cref="SlowStartGracePeriod"/>.</summary>
    public long MinimumBytesPerSecond { get; init; } = 512;

    public TimeSpan SlowStartGracePeriod { get; init; } = TimeSpan.FromSeconds(10);
}
