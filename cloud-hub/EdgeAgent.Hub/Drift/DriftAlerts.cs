using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Drift;

/// <summary>One alert: a feature of a model version crossed the PSI threshold (<c>firing</c>) or came back under it (<c>resolved</c>).</summary>
public sealed record DriftAlert(string Schema, string State, string Model, string Version, string Day, string Feature,
    double Psi, double Threshold, int Devices, long Samples, DateTimeOffset At);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DriftAlert))]
internal sealed partial class DriftAlertJsonContext : JsonSerializerContext
{
}

/// <summary>
/// Fleet drift alerts (issue 7): every <see cref="HubOptions.DriftAlertInterval"/> it builds today's fleet drift of
/// each model version that has drift data (<see cref="FleetDriftReport"/>) and POSTs a JSON
/// <see cref="DriftAlert"/> to <see cref="HubOptions.DriftWebhook"/> when a feature's PSI crosses
/// <see cref="HubOptions.DriftAlertPsi"/>, and again when it falls back under it — once per crossing, not on every
/// evaluation. A failed POST is logged and retried at the next evaluation (the crossing stays unannounced until
/// delivered). State is per hub process: two instances each announce a crossing (receivers should dedupe on
/// model/version/day/feature/state).
/// </summary>
public sealed class DriftAlerts(HubOptions options, IHubStore store, FleetDriftReport report, TimeProvider time, ILogger<DriftAlerts> logger,
    HttpMessageHandler? handler = null) : BackgroundService
{
    private readonly HttpClient _http = new(handler ?? new SocketsHttpHandler(), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(10) };
    private readonly HashSet<string> _firing = new(StringComparer.Ordinal);

    /// <summary>Alerts delivered since start (for tests and metrics).</summary>
    public int Delivered { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.DriftWebhook is null) return;
        using var timer = new PeriodicTimer(options.DriftAlertInterval, time);
        do
        {
            try
            {
                await EvaluateAsync(stoppingToken);
            }
            catch (Exception e) when (e is HubStoreException or HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Drift alert evaluation failed ({Error}); retrying at the next interval", e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One evaluation: sends what changed since the last one. Thread-compatible (called by one loop).</summary>
    public async Task EvaluateAsync(CancellationToken ct)
    {
        var day = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        foreach (var series in await store.ListDriftSeriesAsync(ct))
        {
            if (series.LatestDay != day) continue;
            var drift = await report.BuildAsync(series.Model, series.ModelVersion, day, ct);
            foreach (var f in drift.Features)
            {
                if (f.Psi is not { } psi) continue;
                string key = $"{drift.Model}@{drift.Version}/{drift.Day}/{f.Feature}";
                bool over = psi > options.DriftAlertPsi;
                if (over == _firing.Contains(key)) continue;
                var alert = new DriftAlert("edgehub.drift-alert/1", over ? "firing" : "resolved", drift.Model, drift.Version, drift.Day,
                    f.Feature, Math.Round(psi, 4), options.DriftAlertPsi, f.Devices, f.Count, time.GetUtcNow());
                using var response = await _http.PostAsJsonAsync(options.DriftWebhook, alert, DriftAlertJsonContext.Default.DriftAlert, ct);
                if (!response.IsSuccessStatusCode)
                {
                    logger.LogWarning("Drift webhook {Url} answered {Status} to the {State} alert of {Key}; retrying at the next evaluation",
                        options.DriftWebhook, (int)response.StatusCode, alert.State, key);
                    continue;
                }
                if (over) _firing.Add(key); else _firing.Remove(key);
                Delivered++;
                logger.LogInformation("Drift alert {State}: {Key} PSI {Psi:F3} (threshold {Threshold})", alert.State, key, psi, options.DriftAlertPsi);
            }
        }
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
