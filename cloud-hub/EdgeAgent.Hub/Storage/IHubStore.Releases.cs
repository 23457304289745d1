namespace EdgeAgent.Hub.Storage;

/// <summary>The hub-held TUF repository, releases and device assignments (Releases/README.md).</summary>
public partial interface IHubStore
{
    /// <summary>
    /// Runs one publication atomically and serialised across every hub instance sharing the store: takes
    /// the publish lock, hands <paramref name="build"/> the newest metadata file of each role (by role
    /// name; empty for a new repository), then writes what it returns and commits. <paramref name="build"/>
    /// runs inside the transaction (keep it CPU-only); when it throws or returns an empty publication
    /// nothing is written. A version already stored makes the transaction fail rather than be overwritten.
    /// </summary>
    Task<T> PublishTufAsync<T>(Func<IReadOnlyDictionary<string, TufMetadataFile>, (TufPublication Publication, T Result)> build, CancellationToken ct = default);

    /// <summary>
    /// A metadata file by the name a client requests (<c>3.targets.json</c>); <c>timestamp.json</c> is the
    /// newest timestamp. Null when there is none.
    /// </summary>
    Task<TufMetadataFile?> GetTufMetadataAsync(string name, CancellationToken ct = default);

    /// <summary>A target file by its URL path below <c>targets/</c> (<c>models/kws/HASH.1.0.bundle</c>), or null.</summary>
    Task<TufTargetFile?> GetTufTargetAsync(string urlPath, CancellationToken ct = default);

    Task<IReadOnlyList<ReleaseRecord>> ListReleasesAsync(CancellationToken ct = default);

    Task<ReleaseRecord?> GetReleaseAsync(string model, string version, CancellationToken ct = default);

    /// <summary>The stored assignment of a device (as published), or null.</summary>
    Task<DeviceAssignmentRecord?> GetDeviceAssignmentAsync(string deviceId, CancellationToken ct = default);
}

/// <summary>One signed metadata file. <paramref name="Name"/> is its URL name (<c>N.ROLE.json</c>).</summary>
public sealed record TufMetadataFile(string Name, string Role, long Version, byte[] Content, string Sha256, DateTimeOffset PublishedAt);

/// <summary>One target file below <c>targets/</c>; immutable (its name carries its hash).</summary>
public sealed record TufTargetFile(string UrlPath, string TargetPath, byte[] Content, string Sha256, DateTimeOffset PublishedAt);

/// <summary>A model version published as a TUF target.</summary>
public sealed record ReleaseRecord(string Model, string Version, string TargetPath, long ReleaseCounter, long Length, string Sha256,
    long TargetsVersion, string PublishedBy, DateTimeOffset PublishedAt);

/// <summary>A device's current assignment (the JSON published as <c>assignments/&lt;id&gt;.json</c>).</summary>
public sealed record DeviceAssignmentRecord(string DeviceId, byte[] Assignment, string? Rollout, long RoleVersion, DateTimeOffset UpdatedAt);

/// <summary>What one publication writes. Empty: nothing changes.</summary>
public sealed record TufPublication(
    IReadOnlyList<TufMetadataFile> Metadata,
    IReadOnlyList<TufTargetFile> Targets,
    ReleaseRecord? Release = null,
    IReadOnlyList<DeviceAssignmentRecord>? Assignments = null)
{
    public static TufPublication Empty { get; } = new([], []);

    public bool IsEmpty => Metadata.Count == 0 && Targets.Count == 0 && Release is null && (Assignments?.Count ?? 0) == 0;
}
