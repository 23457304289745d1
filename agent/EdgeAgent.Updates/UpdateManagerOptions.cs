using EdgeAgent.Onnx;
using EdgeAgent.Updates.Health;

namespace EdgeAgent.Updates;

/// <summary>Configuration of one <see cref="UpdateManager"/> (one model family on this device).</summary>
public sealed record UpdateManagerOptions
{
    /// <summary>Model family this manager installs (e.g. <c>kws</c>).</summary>
    public required string Family { get; init; }

    /// <summary>Directory of this family's slots and state files (under the agent's StateDirectory).</summary>
    public required string Directory { get; init; }

    /// <summary>This device's hardware id; bundles must list it.</summary>
    public required string HardwareId { get; init; }

    /// <summary>Session options for validation and serving sessions.</summary>
    public OnnxSessionOptions SessionOptions { get; init; } = OnnxSessionOptions.Default;

    /// <summary>Runs for the p99 latency check.</summary>
    public int LatencyRuns { get; init; } = 200;

    /// <summary>Live windows compared in the shadow phase; 0 skips the phase.</summary>
    public int ShadowWindows { get; init; }

    /// <summary>Longest shadow phase; it ends earlier when <see cref="ShadowWindows"/> were compared.</summary>
    public TimeSpan ShadowTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Minimum argmax agreement with the serving model in shadow; null = report only.</summary>
    public double? MinShadowAgreement { get; init; }

    public HealthPolicy Health { get; init; } = new();

    /// <summary>Allow a release whose input/output contract differs from the serving model's.</summary>
    public bool AcceptContractChange { get; init; }

    /// <summary>fsync + checkpoint granularity of downloads: the most re-downloaded after a power cut.</summary>
    public long DownloadChunkBytes { get; init; } = 1024 * 1024;

    /// <summary>Free disk kept beyond what the update needs (bundle + unpacked model).</summary>
    public long DiskReserveBytes { get; init; } = 16 * 1024 * 1024;

    public TimeSpan DownloadDeadline { get; init; } = TimeSpan.FromMinutes(30);
    public long MinimumBytesPerSecond { get; init; } = 512;
    public TimeSpan SlowStartGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Restarts from zero after a hash mismatch of a resumed download before the update is refused.</summary>
    public int MaxDownloadRestarts { get; init; } = 1;
}
