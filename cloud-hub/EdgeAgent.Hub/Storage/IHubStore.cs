namespace EdgeAgent.Hub.Storage;

/// <summary>
/// Everything the hub keeps. Two implementations: SQLite (default, zero set-up) and PostgreSQL (scale;
/// several hub instances share one database). The same test suite runs against both.
/// </summary>
/// <remarks>
/// Thread-safe: every call opens (or rents from the pool) its own connection. The audit log has no
/// update or delete path here, and the schema refuses UPDATE/DELETE on it (triggers).
/// Telemetry identity is (deviceId, bootId, seq) as a primary key, so exactly-once holds across hub
/// restarts and across hub instances consuming one shared subscription.
/// </remarks>
public partial interface IHubStore : IAsyncDisposable
{
    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    string Kind { get; }

    /// <summary>Applies pending schema migrations (idempotent); returns the versions applied now.</summary>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default);

    /// <summary>Applied migration versions, ascending.</summary>
    Task<IReadOnlyList<int>> AppliedMigrationsAsync(CancellationToken ct = default);

    Task CreateTokenAsync(ApiTokenRecord token, CancellationToken ct = default);

    Task<ApiTokenRecord?> FindTokenByHashAsync(string tokenHash, CancellationToken ct = default);

    Task<IReadOnlyList<ApiTokenRecord>> ListTokensAsync(CancellationToken ct = default);

    /// <summary>Appends one audit row (the only write the audit log has).</summary>
    Task AppendAuditAsync(AuditEntry entry, CancellationToken ct = default);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(int limit, CancellationToken ct = default);

    /// <summary>Creates a device; false when it already exists (labels are then left alone).</summary>
    Task<bool> CreateDeviceAsync(string id, IReadOnlyDictionary<string, string> labels, DateTimeOffset createdAt, CancellationToken ct = default);

    /// <summary>Replaces a device's labels; false when the device does not exist.</summary>
    Task<bool> SetDeviceLabelsAsync(string id, IReadOnlyDictionary<string, string> labels, CancellationToken ct = default);

    /// <summary>
    /// Records the device's revocation time, or clears it (null) when a revoked id is provisioned again;
    /// false when the device does not exist.
    /// </summary>
    Task<bool> SetDeviceRevokedAsync(string id, DateTimeOffset? revokedAt, CancellationToken ct = default);

    Task<bool> DeleteDeviceAsync(string id, CancellationToken ct = default);

    Task<DeviceRecord?> GetDeviceAsync(string id, CancellationToken ct = default);

    Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken ct = default);

    /// <summary>
    /// Records reported state; a device seen for the first time is created (labels empty). A report
    /// older than the stored one is ignored (retained messages may be replayed after a reconnect).
    /// </summary>
    Task RecordDeviceStatusAsync(string id, DeviceStatusReport report, CancellationToken ct = default);

    /// <summary>
    /// Stores events and gaps in one transaction. Events already stored (same device, boot, seq) and
    /// gaps already recorded are skipped, so a redelivered batch changes nothing.
    /// </summary>
    Task<TelemetryWriteResult> StoreTelemetryAsync(IReadOnlyList<StoredEvent> events, IReadOnlyList<TelemetryGap> gaps, CancellationToken ct = default);

    /// <summary>Events of a device, by boot then seq.</summary>
    Task<IReadOnlyList<StoredEvent>> ListEventsAsync(string deviceId, int limit, CancellationToken ct = default);

    Task<long> CountEventsAsync(string? deviceId = null, CancellationToken ct = default);

    Task<IReadOnlyList<TelemetryGap>> ListGapsAsync(string deviceId, CancellationToken ct = default);

    /// <summary>Deletes events, gaps and drift windows whose time is before <paramref name="cutoff"/>; returns events deleted.</summary>
    Task<long> DeleteTelemetryBeforeAsync(DateTimeOffset cutoff, CancellationToken ct = default);

    /// <summary>Stores drift windows; already stored windows (same device, boot, seq) are skipped. Returns the number stored.</summary>
    Task<int> StoreDriftWindowsAsync(IReadOnlyList<DriftWindowRecord> windows, CancellationToken ct = default);

    /// <summary>All windows of a model version on a day (for a fleet-wide merge).</summary>
    Task<IReadOnlyList<DriftWindowRecord>> ListDriftWindowsAsync(string model, string modelVersion, DateOnly day, CancellationToken ct = default);

    Task RecordRejectedMessageAsync(string topic, string reason, ReadOnlyMemory<byte> payload, DateTimeOffset at, CancellationToken ct = default);

    Task<IReadOnlyList<RejectedMessage>> ListRejectedMessagesAsync(int limit, CancellationToken ct = default);

    /// <summary>Registers a model version; throws <see cref="HubStoreException"/> when that name/version exists.</summary>
    Task RegisterModelAsync(ModelRecord model, byte[] onnx, byte[]? bundle, CancellationToken ct = default);

    /// <summary>The bundle tar built at registration (null for an unknown model).</summary>
    Task<byte[]?> GetModelBundleAsync(string name, string version, CancellationToken ct = default);

    Task<ModelRecord?> GetModelAsync(string name, string version, CancellationToken ct = default);

    Task<byte[]?> GetModelOnnxAsync(string name, string version, CancellationToken ct = default);

    Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken ct = default);

    /// <summary>Appends a cloud-tier hard case (the <see cref="HardCaseRecord.Id"/> given is ignored).</summary>
    Task RecordHardCaseAsync(HardCaseRecord hardCase, CancellationToken ct = default);

    /// <summary>Hard cases of a device (all devices when null), newest first.</summary>
    Task<IReadOnlyList<HardCaseRecord>> ListHardCasesAsync(string? deviceId, int limit, CancellationToken ct = default);
}
