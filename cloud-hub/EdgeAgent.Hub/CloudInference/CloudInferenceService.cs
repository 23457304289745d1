using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace EdgeAgent.Hub.CloudInference;

/// <summary>
/// Runs a <see cref="CloudInferenceResponder"/> inside <c>edgehub serve</c> (when MQTT is configured and
/// <see cref="HubOptions.CloudInference"/> is on) with an MQTT client of its own, client id
/// <c>{MqttClientId}-infer</c>: inference must not hold up telemetry acknowledgements on the ingest
/// client, and a client has one message handler. Persistent session (clean start off, 1 h expiry) like
/// the ingest client, so the broker keeps the subscription across reconnects; requests older than their
/// deadline are dropped by the broker through the Message Expiry the device sets.
/// </summary>
public sealed class CloudInferenceService(HubOptions options, IHubStore store, TimeProvider time, ILogger<CloudInferenceService> logger) : BackgroundService
{
    private MqttClient? _client;
    private CloudInferenceResponder? _responder;
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the request subscription is in place.</summary>
    public Task Subscribed => _subscribed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.MqttHost is null || !options.CloudInference) return;
        var client = new MqttClient(HubMqtt.ClientOptions(options, "-infer", time));
        client.MessageHandlerFailed += (_, e) => logger.LogError(e.Exception, "Inference request on {Topic} not answered", e.Message.Topic);
        _client = client;
        _responder = new CloudInferenceResponder(client, store, time, logger, options.ModelCacheDirectory);
        var connect = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(500),
            MaxDelay = TimeSpan.FromSeconds(30),
        }).Build();
        try
        {
            // Like ingestion: a drop between connect and subscribe retries instead of ending the hub, and every
            // later connect subscribes again (Mosquitto may restore the session without its shared subscription).
            var connected = System.Threading.Channels.Channel.CreateUnbounded<bool>();
            client.ConnectionStateChanged += (_, e) => { if (e.State == MqttConnectionState.Connected) connected.Writer.TryWrite(true); };
            await connect.ExecuteAsync(async ct => await client.ConnectAsync(ct), stoppingToken);
            await connect.ExecuteAsync(async ct => await _responder.SubscribeAsync(options.ShareGroup, ct), stoppingToken);
            _subscribed.TrySetResult();
            while (connected.Reader.TryRead(out _)) { }
            await foreach (var _ in connected.Reader.ReadAllAsync(stoppingToken))
                await connect.ExecuteAsync(async ct => await _responder.SubscribeAsync(options.ShareGroup, ct), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_responder is { } r) await r.DisposeAsync();
        if (_client is { } c)
        {
            try
            {
                await c.DisconnectAsync(cancellationToken: cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug(e, "MQTT disconnect at shutdown failed");
            }
            await c.DisposeAsync();
        }
    }
}
