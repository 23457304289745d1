using System.Text.Json;
using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace EdgeAgent.Hub.Releases;

/// <summary>
/// HTTP surface of releases. <c>/tuf/metadata/{name}</c> and <c>/tuf/targets/{path}</c> are anonymous (trust
/// is in the signatures, so any mirror or CDN in front works) with a strong ETag (SHA-256 of the body),
/// If-None-Match → 304, a single Range → 206 (416 when unsatisfiable; several ranges get the whole file),
/// HEAD, and Cache-Control: hash- and version-named files are immutable, <c>timestamp.json</c> is
/// <c>no-cache</c> (revalidate every time; the ETag makes that a 304). The release API lives under
/// <c>/api/v1</c> with the hub's bearer tokens.
/// </summary>
public static class TufEndpoints
{
    public const string ImmutableCacheControl = "public, max-age=31536000, immutable";
    public const string TimestampCacheControl = "no-cache";

    public static void MapTufRepository(this WebApplication app, IHubStore store, ArtifactCache cache)
    {
        string[] getHead = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/tuf/metadata/{name}", getHead, async (string name, HttpContext http, CancellationToken ct) =>
            {
                if (name == "timestamp.json")
                {
                    // Never cached here: another hub instance may have published a newer one a moment ago.
                    var ts = await store.GetTufMetadataAsync(name, ct);
                    return ts is null ? NotFound($"no timestamp.json published yet") : File(http, ts.Content, ts.Sha256, "application/json", immutable: false);
                }
                if (!IsVersionedName(name)) return NotFound($"'{name}' is not a metadata file name (N.ROLE.json or timestamp.json)");
                var key = "metadata/" + name;
                if (!cache.TryGet(key, out var artifact))
                {
                    if (await store.GetTufMetadataAsync(name, ct) is not { } m) return NotFound($"metadata '{name}' does not exist");
                    artifact = new CachedArtifact(m.Content, m.Sha256);
                    cache.Add(key, artifact);
                }
                return File(http, artifact.Content, artifact.Sha256, "application/json", immutable: true);
            })
            .WithSummary("TUF metadata (anonymous; signed): N.root.json, N.targets.json, N.snapshot.json, N.assignments.json, timestamp.json");

        app.MapMethods("/tuf/targets/{**path}", getHead, async (string path, HttpContext http, CancellationToken ct) =>
            {
                var key = "targets/" + path;
                if (!cache.TryGet(key, out var artifact))
                {
                    if (await store.GetTufTargetAsync(path, ct) is not { } t) return NotFound($"target file '{path}' does not exist");
                    artifact = new CachedArtifact(t.Content, t.Sha256);
                    cache.Add(key, artifact);
                }
                return File(http, artifact.Content, artifact.Sha256, "application/octet-stream", immutable: true);
            })
            .WithSummary("TUF target files by consistent-snapshot name HASH.NAME (anonymous; Range, ETag)");
    }

    public static void MapReleaseApi(this WebApplication app, IHubStore store, ReleaseSigner signer)
    {
        var api = app.MapGroup("/api/v1").AddEndpointFilter(ApiAuthentication.RequireRoleFilter);
        api.MapPost("/releases", async (HttpContext http, CancellationToken ct) =>
            {
                ReleaseRequest? req;
                try
                {
                    req = await JsonSerializer.DeserializeAsync(http.Request.Body, ReleasesJsonContext.Default.ReleaseRequest, ct);
                }
                catch (JsonException e)
                {
                    return Error(StatusCodes.Status400BadRequest, $"request body is not JSON {{\"model\":NAME,\"version\":V}}: {e.Message}");
                }
                if (req?.Model is not { Length: > 0 } model || req.Version is not { Length: > 0 } version)
                    return Error(StatusCodes.Status400BadRequest, "send {\"model\":NAME,\"version\":V} naming a registered model version");
                try
                {
                    var release = await signer.PublishReleaseAsync(model, version, http.Actor(), ct);
                    http.AuditTarget($"{model}@{version}", $"targets v{release.TargetsVersion} sha256 {release.Sha256}");
                    return Results.Json(ReleaseView.From(release), ReleasesJsonContext.Default.ReleaseView, statusCode: StatusCodes.Status201Created);
                }
                catch (ReleaseRejectedException e)
                {
                    http.AuditTarget($"{model}@{version}", e.Message);
                    return Error(e.Status, e.Message);
                }
                catch (HubStoreException e)
                {
                    http.AuditTarget($"{model}@{version}", e.Message);
                    return Error(StatusCodes.Status409Conflict, e.Message);
                }
            })
            .WithMetadata(new RequiredRole(HubRole.Operator))
            .WithSummary("Publish a registered model version: signed target models/<name>/<version>.bundle, new snapshot and timestamp, fleet hint");

        api.MapGet("/releases", async (CancellationToken ct) =>
                Results.Json((await store.ListReleasesAsync(ct)).Select(ReleaseView.From).ToList(), ReleasesJsonContext.Default.ListReleaseView))
            .WithMetadata(new RequiredRole(HubRole.ReadOnly))
            .WithSummary("Published releases, oldest first");

        api.MapGet("/assignments/{deviceId}", async (string deviceId, CancellationToken ct) =>
                await store.GetDeviceAssignmentAsync(deviceId, ct) is { } a
                    ? Results.Bytes(a.Assignment, "application/json")
                    : Error(StatusCodes.Status404NotFound, $"device '{deviceId}' has no published assignment"))
            .WithMetadata(new RequiredRole(HubRole.ReadOnly))
            .WithSummary("The assignment published for a device (the JSON of target assignments/<id>.json)");
    }

    private static bool IsVersionedName(string name)
    {
        var dot = name.IndexOf('.');
        return dot > 0 && name.EndsWith(".json", StringComparison.Ordinal) && name.Length > dot + ".json".Length + 1
               && name.AsSpan(0, dot).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    private static IResult File(HttpContext http, byte[] content, string sha256, string contentType, bool immutable)
    {
        http.Response.Headers.CacheControl = immutable ? ImmutableCacheControl : TimestampCacheControl;
        // The framework's file result does the HTTP semantics (RFC 9110 §13–14): If-None-Match/If-Match,
        // If-Range, one Range → 206 with Content-Range, unsatisfiable → 416 "bytes */N", HEAD without body.
        return Results.Bytes(content, contentType, enableRangeProcessing: true, entityTag: new EntityTagHeaderValue($"\"{sha256}\""));
    }

    private static IResult NotFound(string message) => Error(StatusCodes.Status404NotFound, message);

    private static IResult Error(int status, string message) => Results.Json(new ApiError(message), HubJsonContext.Api.ApiError, statusCode: status);
}
