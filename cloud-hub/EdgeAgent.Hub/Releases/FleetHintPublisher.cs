using System.Text.Json;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Releases;

/// <summary>
/// Keeps the retained <c>edgeagent/v1/fleet/hint</c> (QoS 1, DESIGN §5) at the newest timestamp version,
/// on an MQTT client of its own (<c>{MqttClientId}-releases</c>, <see cref="HubMqtt"/> options), so agents refresh their metadata soon
/// after a publication instead of at their next poll. A hint carries no trust: a forged or stale hint only
/// makes devices check earlier. Publications never wait for MQTT: <see cref="Notify"/> records the version
/// and the loop sends the newest one when connected (also once after every connect). With several hub
/// instances each sends the newest version found in the store, so an older hint does not stick.
/// Thread safe. Does nothing when the hub runs without MQTT.
/// </summary>
public sealed class FleetHintPublisher(HubOptions options, IHubStore store, TimeProvider time, ILogger<FleetHintPublisher> logger) : BackgroundService
{
    public const string Topic = "edgeagent/v1/fleet/hint";

    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private long _pending;
    private long _sent;
    private MqttClient? _client;

    /// <summary>The newest timestamp version the broker acknowledged (0 before the first).</summary>
    public long LastSent => Interlocked.Read(ref _sent);

    /// <summary>Records that <paramref name="timestampVersion"/> was published; returns at once.</summary>
    public void Notify(long timestampVersion)
    {
        long seen;
        while ((seen = Interlocked.Read(ref _pending)) < timestampVersion && Interlocked.CompareExchange(ref _pending, timestampVersion, seen) != seen)
        {
        }
        _wake.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.MqttHost is null) return;
        var client = new MqttClient(HubMqtt.ClientOptions(options, "-releases", time)); // same broker, TLS identity and session settings as the other hub clients
        _client = client;
        var retry = HubMqtt.RetryForever();
        try
        {
            await retry.ExecuteAsync(async ct => await client.ConnectAsync(ct), stoppingToken);
            _wake.Release(); // the retained hint is made current after (re)start
            while (!stoppingToken.IsCancellationRequested)
            {
                await _wake.WaitAsync(stoppingToken);
                await retry.ExecuteAsync(async ct => await SendNewestAsync(client, ct), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendNewestAsync(MqttClient client, CancellationToken ct)
    {
        var stored = (await store.GetTufMetadataAsync("timestamp.json", ct))?.Version ?? 0;
        var version = Math.Max(stored, Interlocked.Read(ref _pending));
        if (version == 0 || version <= LastSent) return;
        var payload = JsonSerializer.SerializeToUtf8Bytes(new FleetHint(version, time.GetUtcNow()), ReleasesJsonContext.Default.FleetHint);
        await client.PublishAsync(new MqttApplicationMessage
        {
            Topic = Topic, Payload = payload, QoS = MqttQualityOfService.AtLeastOnce, Retain = true,
            PayloadIsUtf8 = true, ContentType = "application/json",
        }, ct);
        Interlocked.Exchange(ref _sent, version);
        logger.LogInformation("Fleet hint: timestamp v{Version} retained on {Topic}", version, Topic);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await HubMqtt.CloseAsync(_client, logger, cancellationToken);
    }
}
