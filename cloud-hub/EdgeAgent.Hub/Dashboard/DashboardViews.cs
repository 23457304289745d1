using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>Who the dashboard is talking as (<c>GET /api/v1/dashboard/session</c>), so it shows operator controls only to operators.</summary>
public sealed record DashboardSession(string Name, string Role, bool CanOperate);

/// <summary><c>GET /api/v1/dashboard/overview</c>: the fleet page in one call.</summary>
public sealed record FleetOverview(DateTimeOffset GeneratedAt, DeviceStateCounts Devices, IReadOnlyList<KeyCount> AgentVersions,
    IReadOnlyList<KeyCount> ActiveModels, IReadOnlyList<KeyCount> Health, IngestSummary Ingest, PredictionTotals LastHour,
    IReadOnlyList<DeviceRow> DeviceList);

public sealed record DeviceStateCounts(long Registered, long Online, long Offline, long Unknown, long Revoked);

/// <summary>
/// Stored events per stream and contract violations (from the store, all hub instances), plus this hub
/// process's dedup counters (<see cref="DuplicatesDropped"/>: redelivered events filtered since start).
/// </summary>
public sealed record IngestSummary(IReadOnlyList<KeyCount> EventsByStream, long RejectedMessages, long Gaps, long GapEvents,
    long DedupAccepted, long DuplicatesDropped, long CloudAnswered, long CloudFailed);

/// <summary>One line of the fleet table. <see cref="State"/>: online, offline, unknown (never reported) or revoked.</summary>
public sealed record DeviceRow(string Id, string State, string? AgentVersion, string? ActiveModel, string? Health, string? UpdateState,
    DateTimeOffset? StatusAt, DateTimeOffset? LastEventAt, long Events, IReadOnlyDictionary<string, string> Labels);

/// <summary><c>GET /api/v1/dashboard/devices/{id}</c>.</summary>
public sealed record DeviceDetail(DeviceRow Device, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastReceivedAt,
    JsonElement? Status, IReadOnlyList<TelemetryGap> Gaps, PredictionSeries Predictions);

/// <summary>Prediction telemetry bucketed over time: counts by decider, fallback rate, latency percentiles (µs).</summary>
/// <param name="Truncated">True when more samples existed than the hub reads for one chart; the oldest are then missing.</param>
public sealed record PredictionSeries(DateTimeOffset From, DateTimeOffset To, int BucketSeconds, long Samples, bool Truncated,
    PredictionTotals Totals, IReadOnlyList<PredictionPoint> Points, IReadOnlyList<ModelPredictionTotals> ByModel);

/// <param name="FallbackRate">fallback / count (null without predictions).</param>
public sealed record PredictionTotals(long Count, long Local, long Cloud, long Fallback, double? FallbackRate,
    double? InferenceP50Us, double? InferenceP95Us, double? LatencyP50Us, double? LatencyP95Us);

public sealed record PredictionPoint(DateTimeOffset T, long Count, long Local, long Cloud, long Fallback, double? FallbackRate,
    double? InferenceP50Us, double? InferenceP95Us, double? LatencyP50Us, double? LatencyP95Us);

public sealed record ModelPredictionTotals(string Model, PredictionTotals Totals);

/// <summary>A model version with drift data (<c>GET /api/v1/dashboard/drift</c>).</summary>
public sealed record DriftSeriesView(string Model, string Version, string LatestDay, int Days, long Windows, bool Registered, bool HasReference);

/// <summary><c>GET /api/v1/dashboard/drift/{model}/{version}</c>: per feature, the latest day's distributions and PSI by day.</summary>
public sealed record DriftDetail(string Model, string Version, bool HasReference, string? LatestDay, IReadOnlyList<FeatureDriftDetail> Features);

public sealed record FeatureDriftDetail(string Feature, FeatureDrift Latest, DistributionHistogram Histogram, IReadOnlyList<DriftDayPoint> ByDay);

/// <summary>Mass per bin over <see cref="Edges"/> (bins = edges − 1); <see cref="Reference"/> is null without a reference profile.</summary>
public sealed record DistributionHistogram(IReadOnlyList<double> Edges, IReadOnlyList<double> Current, IReadOnlyList<double>? Reference);

public sealed record DriftDayPoint(string Day, long Count, double? Psi, double? Ks, double? Wasserstein1Normalized);

/// <summary>Source-generated JSON for the dashboard's endpoints.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(DashboardSession))]
[JsonSerializable(typeof(FleetOverview))]
[JsonSerializable(typeof(DeviceDetail))]
[JsonSerializable(typeof(PredictionSeries))]
[JsonSerializable(typeof(List<DriftSeriesView>))]
[JsonSerializable(typeof(DriftDetail))]
public sealed partial class DashboardJsonContext : JsonSerializerContext;
