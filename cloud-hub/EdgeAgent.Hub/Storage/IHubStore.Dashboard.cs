namespace EdgeAgent.Hub.Storage;

/// <summary>Read-only aggregates for the dashboard and <c>/metrics</c> (Dashboard/README.md).</summary>
public partial interface IHubStore
{
    /// <summary>Device counts by state, by agent version, by active model and by health, in one pass.</summary>
    Task<FleetCounts> CountFleetAsync(CancellationToken ct = default);

    /// <summary>
    /// Stored events per stream, rejected messages, known gaps (and the events they name) and cloud-tier
    /// hard cases by outcome. Rejected messages and hard cases are never deleted, so their counts only grow.
    /// </summary>
    Task<IngestCounts> CountIngestAsync(CancellationToken ct = default);

    /// <summary>
    /// Prediction events (stream <c>telemetry</c>, kind <c>data</c>, JSON with <c>decidedBy</c> local, cloud or fallback, as the agent's
    /// pipeline writes them) with <c>ts ≥ since</c>, newest first, at most <paramref name="limit"/>;
    /// only of <paramref name="deviceId"/> when given.
    /// </summary>
    Task<IReadOnlyList<PredictionSample>> ListPredictionSamplesAsync(DateTimeOffset since, string? deviceId, int limit, CancellationToken ct = default);

    /// <summary>Per device: stored events, newest event time and newest receive time.</summary>
    Task<IReadOnlyList<DeviceActivity>> ListDeviceActivityAsync(CancellationToken ct = default);

    /// <summary>Model versions that have drift windows: newest day, number of days and windows.</summary>
    Task<IReadOnlyList<DriftSeriesInfo>> ListDriftSeriesAsync(CancellationToken ct = default);

    /// <summary>Days with drift windows of a model version, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<DateOnly>> ListDriftDaysAsync(string model, string modelVersion, int limit, CancellationToken ct = default);
}

/// <summary>Fleet counts. Revoked devices count only as revoked; <c>Unknown</c> = never reported a status.</summary>
public sealed record FleetCounts(long Registered, long Online, long Offline, long Unknown, long Revoked,
    IReadOnlyList<KeyCount> ByAgentVersion, IReadOnlyList<KeyCount> ByActiveModel, IReadOnlyList<KeyCount> ByHealth);

/// <summary>A group key (null when the devices did not report it) and how many rows share it.</summary>
public sealed record KeyCount(string? Key, long Count);

public sealed record IngestCounts(IReadOnlyList<KeyCount> EventsByStream, long RejectedMessages, long Gaps, long GapEvents,
    long HardCasesAnswered, long HardCasesFailed);

/// <summary>One prediction event's numbers (<c>PipelineResult</c> in agent/EdgeAgent.Pipeline).</summary>
public sealed record PredictionSample(DateTimeOffset Ts, string DeviceId, string? Model, string DecidedBy, double? InferenceUs, double? LatencyUs, double? Confidence);

public sealed record DeviceActivity(string DeviceId, long Events, DateTimeOffset? LastEventAt, DateTimeOffset? LastReceivedAt);

public sealed record DriftSeriesInfo(string Model, string ModelVersion, DateOnly LatestDay, int Days, long Windows);
