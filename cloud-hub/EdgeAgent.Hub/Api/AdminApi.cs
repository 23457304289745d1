using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Models;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Telemetry.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeAgent.Hub.Api;

/// <summary>
/// The admin REST API under <c>/api/v1</c> (JSON; described at <c>/openapi/v1.json</c>). Each endpoint
/// carries its <see cref="RequiredRole"/>; errors are <see cref="ApiError"/> bodies.
/// </summary>
public static class AdminApi
{
    public static void MapAdminApi(this WebApplication app, IHubStore store, TimeProvider time, ModelRegistration models, FleetDriftReport drift)
    {
        var ctx = HubJsonContext.Api;
        var api = app.MapGroup("/api/v1").AddEndpointFilter(ApiAuthentication.RequireRoleFilter);

        // ---- devices ----
        api.MapGet("/devices", async (CancellationToken ct) =>
                Results.Json((await store.ListDevicesAsync(ct)).Select(DeviceView.From).ToList(), ctx.ListDeviceView))
            .Role(HubRole.ReadOnly, "List devices with labels and reported state");

        api.MapPost("/devices", async (HttpContext http, CancellationToken ct) =>
            {
                var req = await ReadJsonAsync(http, ctx.CreateDeviceRequest, ct);
                if (req is null) return BadBody();
                http.AuditTarget(req.Id ?? "-");
                try
                {
                    TelemetryStreams.ValidateDeviceId(req.Id!);
                }
                catch (ArgumentException e)
                {
                    return Error(StatusCodes.Status400BadRequest, e.Message.Split(" (Parameter")[0]);
                }
                if (!await store.CreateDeviceAsync(req.Id!, req.Labels ?? [], time.GetUtcNow(), ct))
                    return Error(StatusCodes.Status409Conflict, $"device '{req.Id}' already exists; change its labels with PUT /api/v1/devices/{req.Id}/labels");
                var created = await store.GetDeviceAsync(req.Id!, ct);
                return Results.Json(DeviceView.From(created!), ctx.DeviceView, statusCode: StatusCodes.Status201Created);
            })
            .Role(HubRole.Operator, "Register a device: {id, labels}");

        api.MapGet("/devices/{id}", async (string id, CancellationToken ct) =>
                await store.GetDeviceAsync(id, ct) is { } d ? Results.Json(DeviceView.From(d), ctx.DeviceView) : NoDevice(id))
            .Role(HubRole.ReadOnly, "One device with its reported state");

        api.MapPut("/devices/{id}/labels", async (string id, HttpContext http, CancellationToken ct) =>
            {
                http.AuditTarget(id);
                var labels = await ReadJsonAsync(http, ctx.DictionaryStringString, ct);
                if (labels is null) return BadBody();
                return await store.SetDeviceLabelsAsync(id, labels, ct)
                    ? Results.Json(DeviceView.From((await store.GetDeviceAsync(id, ct))!), ctx.DeviceView)
                    : NoDevice(id);
            })
            .Role(HubRole.Operator, "Replace a device's labels with the JSON object in the body");

        api.MapDelete("/devices/{id}", async (string id, HttpContext http, CancellationToken ct) =>
            {
                http.AuditTarget(id);
                return await store.DeleteDeviceAsync(id, ct) ? Results.NoContent() : NoDevice(id);
            })
            .Role(HubRole.Admin, "Remove a device from the registry (its telemetry stays until retention)");

        api.MapGet("/devices/{id}/events", async (string id, int? limit, CancellationToken ct) =>
                Results.Json((await store.ListEventsAsync(id, Math.Clamp(limit ?? 1000, 1, 100_000), ct))
                    .Select(e => new EventView(e.BootId, e.Seq, e.Stream, e.Kind, e.Ts, e.Prio,
                        e.Data is null ? null : ParseJson(e.Data), e.Bin)).ToList(), ctx.ListEventView))
            .Role(HubRole.ReadOnly, "Stored telemetry events of a device (exactly once), by boot and seq");

        api.MapGet("/devices/{id}/gaps", async (string id, CancellationToken ct) =>
                Results.Json((await store.ListGapsAsync(id, ct)).ToList(), ctx.ListTelemetryGap))
            .Role(HubRole.ReadOnly, "Known telemetry gaps of a device (from tombstones)");

        // ---- telemetry ----
        api.MapPost("/telemetry/retention", async (HttpContext http, CancellationToken ct) =>
            {
                var req = await ReadJsonAsync(http, ctx.RetentionRequest, ct);
                if (req is null) return BadBody();
                if (req.OlderThanDays < 1) return Error(StatusCodes.Status400BadRequest, $"olderThanDays {req.OlderThanDays} must be at least 1");
                var cutoff = time.GetUtcNow().AddDays(-req.OlderThanDays);
                http.AuditTarget("telemetry", $"older than {req.OlderThanDays} days");
                return Results.Json(new RetentionResult(await store.DeleteTelemetryBeforeAsync(cutoff, ct), cutoff), ctx.RetentionResult);
            })
            .Role(HubRole.Admin, "Delete telemetry older than N days now: {olderThanDays}");

        api.MapGet("/telemetry/rejected", async (int? limit, CancellationToken ct) =>
                Results.Json((await store.ListRejectedMessagesAsync(Math.Clamp(limit ?? 100, 1, 10_000), ct))
                    .Select(r => new RejectedView(r.Id, r.At, r.Topic, r.Reason, r.Payload.Length)).ToList(), ctx.ListRejectedView))
            .Role(HubRole.Operator, "MQTT messages the hub could not use, with the reason (kept, not dropped)");

        api.MapGet("/hard-cases", async (string? device, int? limit, CancellationToken ct) =>
                Results.Json((await store.ListHardCasesAsync(device, Math.Clamp(limit ?? 100, 1, 10_000), ct)).Select(HardCaseView.From).ToList(), ctx.ListHardCaseView))
            .Role(HubRole.ReadOnly, "Cloud-tier hard cases for labeling, newest first (?device=ID&limit=N): window, local and cloud answers");

        api.MapGet("/drift/{model}/{version}", async (string model, string version, string? day, CancellationToken ct) =>
            {
                DateOnly d;
                if (day is null) d = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
                else if (!DateOnly.TryParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out d))
                    return Error(StatusCodes.Status400BadRequest, $"day '{day}' is not YYYY-MM-DD");
                return Results.Json(await drift.BuildAsync(model, version, d, ct), ctx.FleetDrift);
            })
            .Role(HubRole.ReadOnly, "Fleet drift of a model version on a day (?day=YYYY-MM-DD, default today): merged sketches, PSI/KS/W1 vs the reference");

        // ---- models ----
        api.MapGet("/models", async (CancellationToken ct) =>
                Results.Json((await store.ListModelsAsync(ct)).Select(ModelView.From).ToList(), ctx.ListModelView))
            .Role(HubRole.ReadOnly, "Registered model versions");

        api.MapGet("/models/{name}/{version}", async (string name, string version, CancellationToken ct) =>
                await store.GetModelAsync(name, version, ct) is { } m
                    ? Results.Json(ModelView.From(m), ctx.ModelView)
                    : Error(StatusCodes.Status404NotFound, $"model '{name}' version '{version}' is not registered"))
            .Role(HubRole.ReadOnly, "One registered model version");

        api.MapGet("/models/{name}/{version}/bundle", async (string name, string version, CancellationToken ct) =>
                await store.GetModelBundleAsync(name, version, ct) is { } bundle
                    ? Results.File(bundle, "application/x-tar", $"{name}-{version}.bundle")
                    : Error(StatusCodes.Status404NotFound, $"model '{name}' version '{version}' has no bundle (not registered)"))
            .Role(HubRole.ReadOnly, "The bundle tar (manifest.json + model.onnx) built at registration");

        api.MapPost("/models", async (HttpContext http, CancellationToken ct) =>
            {
                if (!http.Request.HasFormContentType)
                    return Error(StatusCodes.Status400BadRequest, "send multipart/form-data with parts 'model' (the .onnx file) and 'manifest' (JSON)");
                IFormCollection form;
                try
                {
                    form = await http.Request.ReadFormAsync(ct);
                }
                catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
                {
                    return Error(StatusCodes.Status400BadRequest, $"unreadable multipart body ({e.Message}); send parts 'model' (the .onnx file) and 'manifest' (JSON)");
                }
                var modelPart = form.Files["model"];
                var manifestPart = form.Files["manifest"];
                byte[]? manifest = manifestPart is not null ? await ReadAllAsync(manifestPart, ct)
                    : form.TryGetValue("manifest", out var text) ? System.Text.Encoding.UTF8.GetBytes(text.ToString()) : null;
                if (modelPart is null || manifest is null)
                    return Error(StatusCodes.Status400BadRequest, $"missing part '{(modelPart is null ? "model" : "manifest")}': send 'model' (the .onnx file) and 'manifest' (JSON)");
                try
                {
                    var referencePart = form.Files["reference"];
                    var referenceFeatures = form.TryGetValue("referenceFeatures", out var names)
                        ? names.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null;
                    var record = (await models.RegisterAsync(await ReadAllAsync(modelPart, ct), manifest, http.Actor(), ct,
                        referencePart is null ? null : await ReadAllAsync(referencePart, ct), referenceFeatures)).Record;
                    http.AuditTarget($"{record.Name}@{record.Version}", $"sha256 {record.Sha256}");
                    return Results.Json(ModelView.From(record), ctx.ModelView, statusCode: StatusCodes.Status201Created);
                }
                catch (ModelRejectedException e)
                {
                    http.AuditTarget("model", e.Message);
                    return Error(StatusCodes.Status422UnprocessableEntity, e.Message);
                }
                catch (HubStoreException e)
                {
                    http.AuditTarget("model", e.Message);
                    return Error(StatusCodes.Status409Conflict, e.Message);
                }
            })
            .Role(HubRole.Operator, "Register a model version: multipart 'model' (.onnx) + 'manifest' (the bundle manifest JSON without 'model') + optional 'reference' (training data, CSV with a header of feature names or 2-D float32 .npy with 'referenceFeatures'=a,b,c) from which the drift reference profile is computed; checked, then the bundle is built")
            .DisableAntiforgery();

        // ---- tokens and audit ----
        api.MapGet("/tokens", async (CancellationToken ct) =>
                Results.Json((await store.ListTokensAsync(ct)).Select(t => new TokenView(t.Id, t.Name, HubRoles.WireName(t.Role), t.CreatedAt)).ToList(), ctx.ListTokenView))
            .Role(HubRole.Admin, "API tokens (never the secrets)");

        api.MapPost("/tokens", async (HttpContext http, CancellationToken ct) =>
            {
                var req = await ReadJsonAsync(http, ctx.CreateTokenRequest, ct);
                if (req is null) return BadBody();
                if (!HubRoles.TryParse(req.Role, out var role))
                    return Error(StatusCodes.Status400BadRequest, $"role '{req.Role}' is not one of admin, operator, read-only");
                if (string.IsNullOrWhiteSpace(req.Name)) return Error(StatusCodes.Status400BadRequest, "token name is required");
                var created = await ApiTokens.CreateAsync(store, req.Name, role, time, ct);
                http.AuditTarget(created.Record.Id, $"{created.Record.Name} role {req.Role}");
                return Results.Json(new TokenView(created.Record.Id, created.Record.Name, HubRoles.WireName(role), created.Record.CreatedAt, created.Secret),
                    ctx.TokenView, statusCode: StatusCodes.Status201Created);
            })
            .Role(HubRole.Admin, "Create an API token {name, role}; the secret is in this response only");

        api.MapGet("/audit", async (int? limit, CancellationToken ct) =>
                Results.Json((await store.ListAuditAsync(Math.Clamp(limit ?? 100, 1, 10_000), ct)).ToList(), ctx.ListAuditEntry))
            .Role(HubRole.Admin, "Audit log, newest first (append-only: who, what, when, outcome)");
    }

    private static JsonElement ParseJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    private static RouteHandlerBuilder Role(this RouteHandlerBuilder builder, HubRole role, string summary) =>
        builder.WithMetadata(new RequiredRole(role)).WithSummary(summary);

    private static IResult Error(int status, string message) => Results.Json(new ApiError(message), HubJsonContext.Api.ApiError, statusCode: status);

    private static IResult NoDevice(string id) => Error(StatusCodes.Status404NotFound, $"device '{id}' is not registered");

    private static IResult BadBody() => Error(StatusCodes.Status400BadRequest, "request body must be a JSON object as described in /openapi/v1.json");

    private static async Task<T?> ReadJsonAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(http.Request.Body, type, ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<byte[]> ReadAllAsync(IFormFile file, CancellationToken ct)
    {
        using var ms = new MemoryStream();
        await file.CopyToAsync(ms, ct);
        return ms.ToArray();
    }
}
