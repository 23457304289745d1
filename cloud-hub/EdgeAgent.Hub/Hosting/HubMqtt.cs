using System.Threading.Channels;
using EdgeAgent.Mqtt;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace EdgeAgent.Hub.Hosting;

/// <summary>
/// One place that turns <see cref="HubOptions"/> into MQTT client options, so every hub connection
/// (ingestion, cloud tier, fleet hint) uses the same broker, TLS identity and session settings and differs
/// only in its client id suffix.
/// </summary>
public static class HubMqtt
{
    /// <param name="suffix">Appended to <see cref="HubOptions.MqttClientId"/> ("" for the ingestion client): client ids must be unique per connection.</param>
    public static MqttClientOptions ClientOptions(HubOptions options, string suffix, TimeProvider time) => new()
    {
        Endpoint = MqttEndpoint.Tcp(options.MqttHost ?? throw new InvalidOperationException("the hub runs without MQTT (--mqtt not set)"), options.MqttPort),
        Tls = options.MqttCaFile is null && options.MqttCertFile is null ? null
            : MqttTlsPemFiles.Load(options.MqttCaFile, options.MqttCertFile, options.MqttKeyFile, options.MqttHost, "--mqtt-", ""),
        ClientId = options.MqttClientId + suffix,
        CleanStart = false,
        SessionExpiryInterval = 3600,
        TimeProvider = time,
    };

    /// <summary>
    /// Retries until success or cancellation, jittered exponential backoff 0.5 s → 30 s: connecting, subscribing and
    /// publishing of the hub's MQTT services (the client reconnects by itself meanwhile). <paramref name="onRetry"/>
    /// null retries quietly.
    /// </summary>
    public static ResiliencePipeline RetryForever(Action<OnRetryArguments<object>>? onRetry = null) =>
        new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(500),
            MaxDelay = TimeSpan.FromSeconds(30),
            OnRetry = onRetry is null ? null : a =>
            {
                onRetry(a);
                return ValueTask.CompletedTask;
            },
        }).Build();

    /// <summary>
    /// Connects <paramref name="client"/>, runs <paramref name="subscribe"/>, calls <paramref name="subscribed"/> once,
    /// and runs <paramref name="subscribe"/> again after EVERY later connect, until <paramref name="ct"/> is cancelled
    /// (then it throws <see cref="OperationCanceledException"/>). Not only after a reconnect that lost the session:
    /// Mosquitto 2.0.11 restores a persistent session after a restart with its plain subscriptions but without its
    /// shared ones, while reporting the session as present (chaos suite, broker-restart); subscribing is idempotent.
    /// A drop between connecting and subscribing retries instead of ending the service.
    /// </summary>
    public static async Task KeepSubscribedAsync(MqttClient client, ResiliencePipeline retry, Func<CancellationToken, Task> subscribe,
        Action subscribed, CancellationToken ct)
    {
        var connected = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
        client.ConnectionStateChanged += (_, e) => { if (e.State == MqttConnectionState.Connected) connected.Writer.TryWrite(true); };
        await retry.ExecuteAsync(async token => await client.ConnectAsync(token), ct);
        await retry.ExecuteAsync(async token => await subscribe(token), ct);
        subscribed();
        while (connected.Reader.TryRead(out _)) { } // the first connect is covered
        await foreach (var _ in connected.Reader.ReadAllAsync(ct))
            await retry.ExecuteAsync(async token => await subscribe(token), ct);
    }

    /// <summary>Disconnects (best effort, a failure is logged at debug level) and disposes the client of a hub service at shutdown.</summary>
    public static async Task CloseAsync(MqttClient? client, ILogger logger, CancellationToken ct)
    {
        if (client is null) return;
        try
        {
            await client.DisconnectAsync(cancellationToken: ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogDebug(e, "MQTT disconnect at shutdown failed");
        }
        await client.DisposeAsync();
    }
}
