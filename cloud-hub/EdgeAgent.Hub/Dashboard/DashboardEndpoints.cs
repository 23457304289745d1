using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>
/// Maps the dashboard: its static files at <c>/</c> and <c>/ui/…</c> (anonymous: they hold no data; the
/// page asks for an API token and calls the bearer API), the read-only aggregate endpoints under
/// <c>/api/v1/dashboard/</c>, and <c>GET /metrics</c>.
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>
    /// Only our own files, no inline script or style: the page renders data that devices reported (labels,
    /// health text), so a strict policy keeps a hostile string from ever running as code.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void MapDashboardEndpoints(this WebApplication app, DashboardAssets assets, DashboardQueries queries, HubMetrics metrics, HubOptions options)
    {
        app.MapGet("/", (HttpContext http) => Serve(http, assets.Find("index.html")!));
        app.MapGet("/ui", (HttpContext http) => Serve(http, assets.Find("index.html")!));
        app.MapGet("/ui/{**path}", (string path, HttpContext http) =>
            assets.Find(path) is { } asset ? Serve(http, asset)
            // Deep links (/ui/devices/x) are routes of the single page, not files: they get the page.
            : !path.Contains('.', StringComparison.Ordinal) ? Serve(http, assets.Find("index.html")!)
            : Results.Text($"no dashboard file '{path}'", "text/plain", statusCode: StatusCodes.Status404NotFound));

        app.MapGet("/metrics", async (HttpContext http, CancellationToken ct) =>
        {
            if (options.MetricsToken is { } expected && !TokenMatches(http.Request.Headers.Authorization.ToString(), expected))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Text("metrics need 'Authorization: Bearer <metrics token>' (EDGEHUB_METRICS_TOKEN of this hub)\n", "text/plain", statusCode: StatusCodes.Status401Unauthorized);
            }
            return Results.Text(await metrics.ScrapeAsync(ct), PrometheusTextWriter.ContentType);
        });

        var ctx = DashboardJsonContext.Default;
        var api = app.MapGroup("/api/v1/dashboard").AddEndpointFilter(ApiAuthentication.RequireRoleFilter);
        api.MapGet("/session", (HttpContext http) =>
            {
                var t = http.Caller()!;
                return Results.Json(new DashboardSession(t.Name, HubRoles.WireName(t.Role), t.Role >= HubRole.Operator), ctx.DashboardSession);
            })
            .Role("The calling token's name and role (the dashboard shows operator controls only to operators)");

        api.MapGet("/overview", async (CancellationToken ct) => Results.Json(await queries.OverviewAsync(ct), ctx.FleetOverview))
            .Role("Fleet overview: devices by state/version/model/health, ingest counters, last hour's predictions, device table");

        api.MapGet("/devices/{id}", async (string id, int? hours, CancellationToken ct) =>
                RangeProblem(hours) is { } problem ? problem
                : await queries.DeviceAsync(id, TimeSpan.FromHours(hours ?? 24), ct) is { } d ? Results.Json(d, ctx.DeviceDetail)
                : Error(StatusCodes.Status404NotFound, $"device '{id}' is not registered"))
            .Role("One device: reported status, activity, gaps and its prediction series (?hours=1..720, default 24)");

        api.MapGet("/predictions", async (int? hours, string? device, CancellationToken ct) =>
                RangeProblem(hours) is { } problem ? problem
                : Results.Json(await queries.PredictionsAsync(TimeSpan.FromHours(hours ?? 24), device, ct), ctx.PredictionSeries))
            .Role("Prediction telemetry over time (?hours=1..720, default 24; ?device=ID): counts by decider, fallback rate, inference and decision latency p50/p95");

        api.MapGet("/drift", async (CancellationToken ct) => Results.Json((await queries.DriftSeriesAsync(ct)).ToList(), ctx.ListDriftSeriesView))
            .Role("Model versions with drift windows: latest day, days and windows, whether a reference profile is registered");

        api.MapGet("/drift/{model}/{version}", async (string model, string version, int? days, CancellationToken ct) =>
                days is < 1 or > 90 ? Error(StatusCodes.Status400BadRequest, $"days {days} must be between 1 and 90")
                : Results.Json(await queries.DriftAsync(model, version, days ?? 14, ct), ctx.DriftDetail))
            .Role("Fleet drift per feature: latest day's current vs reference histogram and PSI/KS/W1 by day (?days=1..90, default 14)");
    }

    private static IResult Serve(HttpContext http, DashboardAsset asset)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.ETag = asset.ETag;
        // Revalidate every time: a hub upgrade must never leave an old module next to a new one.
        headers.CacheControl = "no-cache";
        if (http.Request.Headers.IfNoneMatch.ToString() == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static IResult? RangeProblem(int? hours) =>
        hours is < 1 or > 720 ? Error(StatusCodes.Status400BadRequest, $"hours {hours} must be between 1 and 720") : null;

    private static bool TokenMatches(string header, string expected)
    {
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        // Compare hashes in constant time: the token's length and prefix must not leak through timing.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim())),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }

    private static RouteHandlerBuilder Role(this RouteHandlerBuilder builder, string summary) =>
        builder.WithMetadata(new RequiredRole(HubRole.ReadOnly)).WithSummary(summary);

    private static IResult Error(int status, string message) => Results.Json(new ApiError(message), HubJsonContext.Api.ApiError, statusCode: status);
}
