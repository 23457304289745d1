using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Releases;

/// <summary>Body of <c>POST /api/v1/releases</c>.</summary>
public sealed record ReleaseRequest(string? Model, string? Version);

/// <summary>A published release as the API shows it.</summary>
public sealed record ReleaseView(string Model, string Version, string Target, long ReleaseCounter, long Length, string Sha256,
    long TargetsVersion, string PublishedBy, DateTimeOffset PublishedAt)
{
    public static ReleaseView From(ReleaseRecord r) =>
        new(r.Model, r.Version, r.TargetPath, r.ReleaseCounter, r.Length, r.Sha256, r.TargetsVersion, r.PublishedBy, r.PublishedAt);
}

/// <summary>Payload of the retained <c>edgeagent/v1/fleet/hint</c>: a timestamp version exists (a hint; trust is in the metadata).</summary>
public sealed record FleetHint(long Timestamp, DateTimeOffset At);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ReleaseRequest))]
[JsonSerializable(typeof(ReleaseView))]
[JsonSerializable(typeof(List<ReleaseView>))]
[JsonSerializable(typeof(FleetHint))]
public sealed partial class ReleasesJsonContext : JsonSerializerContext
{
}
