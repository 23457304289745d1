using System.Text.Json;
using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeAgent.Hub.Hosting;

/// <summary>Staged rollouts: the engine (hosted), operator actions and their API (Rollouts/README.md).</summary>
public static partial class HubHost
{
    static partial void AddRollouts(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time)
    {
        builder.Services.AddSingleton<RolloutSignal>();
        // A hub that can sign refuses rollouts of releases it never published (its signer would refuse the
        // assignments). A hub without signing keys publishes nothing itself: it accepts any registered
        // release and its rollouts' assignments wait, shown as 'unpublished', for an instance that can sign.
        builder.Services.AddSingleton(sp => new RolloutService(store, time, sp.GetRequiredService<RolloutSignal>(),
            requirePublishedRelease: RolloutEngine.CanPublish(sp.GetService<IDeviceAssignmentPublisher>())));
        builder.Services.AddSingleton<RolloutInspector>();
        builder.Services.AddSingleton<RolloutEngine>();
        if (options.RolloutEngine) builder.Services.AddHostedService(sp => sp.GetRequiredService<RolloutEngine>());
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, RolloutJsonContext.Default));
    }

    static partial void MapRollouts(WebApplication app)
    {
        var ctx = RolloutJsonContext.Api;
        var store = app.Services.GetRequiredService<IHubStore>();
        var rollouts = app.Services.GetRequiredService<RolloutService>();
        var inspector = app.Services.GetRequiredService<RolloutInspector>();
        var api = app.MapGroup("/api/v1").AddEndpointFilter(ApiAuthentication.RequireRoleFilter);

        api.MapGet("/rollouts", async (CancellationToken ct) =>
                Results.Json((await store.ListRolloutsAsync(ct)).Select(RolloutSummaryView.From).ToList(), ctx.ListRolloutSummaryView))
            .WithMetadata(new RequiredRole(HubRole.ReadOnly))
            .WithSummary("Rollouts, newest first: release, state, current step and percent, halt reason");

        api.MapGet("/rollouts/{id}", async (string id, CancellationToken ct) =>
                await inspector.DescribeAsync(id, ct) is { } view ? Results.Json(view, ctx.RolloutDetailView) : RolloutNotFound(id))
            .WithMetadata(new RequiredRole(HubRole.ReadOnly))
            .WithSummary("One rollout: per-step progress, device state counts, current health figures and thresholds, what the step waits for, halt reason, history");

        api.MapPost("/rollouts", async (HttpContext http, CancellationToken ct) =>
            {
                CreateRolloutRequest? request;
                try
                {
                    request = await JsonSerializer.DeserializeAsync(http.Request.Body, ctx.CreateRolloutRequest, ct);
                }
                catch (JsonException e)
                {
                    return RolloutError(StatusCodes.Status400BadRequest, $"request body is not a rollout ({e.Message}); send {{family, version, cohort, steps, thresholds}}");
                }
                if (request is null) return RolloutError(StatusCodes.Status400BadRequest, "request body must be a JSON object {family, version, cohort, steps, thresholds}");
                http.AuditTarget($"{request.Family}@{request.Version}");
                try
                {
                    var created = await rollouts.CreateAsync(request, http.Actor(), ct);
                    http.AuditTarget(created.Id, $"{created.Family}@{created.Version} cohort {RolloutService.Describe(created.Cohort)}");
                    return Results.Json(await inspector.DescribeAsync(created.Id, ct), ctx.RolloutDetailView, statusCode: StatusCodes.Status201Created);
                }
                catch (RolloutException e)
                {
                    http.AuditTarget(request.Id ?? $"{request.Family}@{request.Version}", e.Message);
                    return RolloutRefused(e);
                }
            })
            .WithMetadata(new RequiredRole(HubRole.Operator))
            .WithSummary("Start a rollout {family, version, cohort: {label: value}, steps: [{percent, bakeSeconds, minDevices}], thresholds: {maxRefusalRatio, maxRollbackRatio, maxFallbackRate, minMeanConfidence, maxDriftPsi, minPredictions, minDriftSamples}}");

        MapRolloutAction(api, "promote", rollouts.PromoteAsync, "Start the next step now (skips bake time and the committed-device minimum; thresholds still apply); completes on the last step");
        MapRolloutAction(api, "pause", rollouts.PauseAsync, "Stop advancing (health is still watched: a crossed threshold still halts and rolls back) {reason?}");
        MapRolloutAction(api, "resume", rollouts.ResumeAsync, "Continue a paused rollout {reason?}");
        MapRolloutAction(api, "abort", rollouts.AbortAsync, "Stop the rollout and give every device it moved its previous release back {reason?}");

        api.MapGet("/devices/{id}/updates", async (string id, int? limit, CancellationToken ct) =>
                Results.Json((await store.ListDeviceUpdatesAsync(id, Math.Clamp(limit ?? 200, 1, 10_000), ct)).Select(DeviceUpdateView.Of).ToList(), ctx.ListDeviceUpdateView))
            .WithMetadata(new RequiredRole(HubRole.ReadOnly))
            .WithSummary("Update state machine transitions a device reported (downloading … committed, rolled-back, refused with reasons), newest first (?limit=N)");
    }

    private static void MapRolloutAction(RouteGroupBuilder api, string verb, Func<string, string, string?, CancellationToken, Task<RolloutRecord>> action, string summary) =>
        api.MapPost($"/rollouts/{{id}}/{verb}", async (string id, HttpContext http, CancellationToken ct) =>
            {
                http.AuditTarget(id);
                string? reason = null;
                if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
                {
                    try
                    {
                        reason = (await JsonSerializer.DeserializeAsync(http.Request.Body, RolloutJsonContext.Api.RolloutActionRequest, ct))?.Reason;
                    }
                    catch (JsonException e)
                    {
                        return RolloutError(StatusCodes.Status400BadRequest, $"request body must be empty or {{\"reason\": \"…\"}} ({e.Message})");
                    }
                }
                try
                {
                    var r = await action(id, http.Actor(), reason, ct);
                    http.AuditTarget(id, $"{verb}: now {r.State.Wire()}, step {r.StepIndex + 1}{(reason is null ? "" : $" ({reason})")}");
                    return Results.Json(RolloutSummaryView.From(r), RolloutJsonContext.Api.RolloutSummaryView);
                }
                catch (RolloutException e)
                {
                    http.AuditTarget(id, e.Message);
                    return RolloutRefused(e);
                }
            })
            .WithMetadata(new RequiredRole(HubRole.Operator))
            .WithSummary(summary);

    private static IResult RolloutRefused(RolloutException e) => RolloutError(e.Kind switch
    {
        RolloutErrorKind.NotFound => StatusCodes.Status404NotFound,
        RolloutErrorKind.Conflict => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status422UnprocessableEntity,
    }, e.Message);

    private static IResult RolloutNotFound(string id) => RolloutError(StatusCodes.Status404NotFound, $"rollout '{id}' does not exist; list them with GET /api/v1/rollouts");

    private static IResult RolloutError(int status, string message) => Results.Json(new ApiError(message), HubJsonContext.Api.ApiError, statusCode: status);
}
