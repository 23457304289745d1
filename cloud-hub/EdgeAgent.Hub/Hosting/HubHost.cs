using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Models;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Hosting;

/// <summary>Builds the hub web application: store (migrated), MQTT consumer, retention loop, API.</summary>
public static partial class HubHost
{
    // Feature hooks: each feature (Releases/, Rollouts/, Dashboard/) implements its pair in a partial file
    // of its own folder, so features add services and endpoints without editing this file.
    static partial void AddReleases(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time);
    static partial void MapReleases(WebApplication app);
    static partial void AddRollouts(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time);
    static partial void MapRollouts(WebApplication app);
    static partial void AddDashboard(WebApplicationBuilder builder, HubOptions options, IHubStore store, TimeProvider time);
    static partial void MapDashboard(WebApplication app);

    /// <summary>
    /// Opens and migrates the store and builds the app (not started). The caller owns the returned app
    /// (dispose it); the store is disposed with the app's services.
    /// </summary>
    public static async Task<WebApplication> BuildAsync(HubOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? logging = null, CancellationToken ct = default)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new HubConfigurationException(problems);
        time ??= TimeProvider.System;
        var store = HubStores.Open(options.Store);
        try
        {
            await store.MigrateAsync(ct);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxModelBytes + 1024 * 1024);
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f => f.MultipartBodyLengthLimit = options.MaxModelBytes + 1024 * 1024);
        // One line per request is noise for an ingest service; keep the framework's warnings and errors.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (logging is not null) logging(builder.Logging);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton<TelemetryIngestor>();
        builder.Services.AddSingleton<MqttHubConsumer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttHubConsumer>());
        builder.Services.AddHostedService<TelemetryRetention>();
        builder.Services.AddSingleton<EdgeAgent.Hub.CloudInference.CloudInferenceService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EdgeAgent.Hub.CloudInference.CloudInferenceService>());
        builder.Services.AddSingleton(sp => new ModelRegistration(store, time, options.MaxModelBytes));
        builder.Services.AddSingleton<FleetDriftReport>();
        builder.Services.AddSingleton<DriftAlerts>(sp => new DriftAlerts(options, store, sp.GetRequiredService<FleetDriftReport>(), time,
            sp.GetRequiredService<ILogger<DriftAlerts>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DriftAlerts>());
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, HubJsonContext.Default));
        AddReleases(builder, options, store, time);
        AddRollouts(builder, options, store, time);
        AddDashboard(builder, options, store, time);

        var app = builder.Build();
        app.UseHubApiAuthentication(store, time);
        app.MapGet("/healthz", (MqttHubConsumer mqtt) =>
            Results.Json(new HealthView("ok", store.Kind, options.MqttHost is null ? "disabled" : mqtt.State.ToString()), HubJsonContext.Api.HealthView));
        app.MapGet("/openapi/v1.json", (EndpointDataSource endpoints) =>
            Results.Text(OpenApiDocument.Build(endpoints).ToJsonString(), "application/json"));
        app.MapAdminApi(store, time, app.Services.GetRequiredService<ModelRegistration>(), app.Services.GetRequiredService<FleetDriftReport>());
        MapReleases(app);
        MapRollouts(app);
        MapDashboard(app);
        return app;
    }
}

/// <summary>The options are unusable; one line per problem.</summary>
public sealed class HubConfigurationException(IReadOnlyList<string> problems)
    : Exception("edgehub configuration is invalid:\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Deletes telemetry older than <see cref="HubOptions.RetentionDays"/> every <see cref="HubOptions.RetentionInterval"/>.</summary>
public sealed class TelemetryRetention(HubOptions options, IHubStore store, TimeProvider time, ILogger<TelemetryRetention> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.RetentionDays == 0) return;
        using var timer = new PeriodicTimer(options.RetentionInterval, time);
        do
        {
            try
            {
                var cutoff = time.GetUtcNow().AddDays(-options.RetentionDays);
                var deleted = await store.DeleteTelemetryBeforeAsync(cutoff, stoppingToken);
                if (deleted > 0) logger.LogInformation("Retention deleted {Deleted} events older than {Cutoff}", deleted, cutoff);
            }
            catch (HubStoreException e)
            {
                logger.LogError(e, "Retention run failed; retrying at the next interval");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
