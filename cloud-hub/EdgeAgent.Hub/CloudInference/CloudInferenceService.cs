using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        try
        {
            // Like ingestion: a drop between connect and subscribe retries instead of ending the hub, and every
            // later connect subscribes again (Mosquitto may restore the session without its shared subscription).
            await HubMqtt.KeepSubscribedAsync(client, HubMqtt.RetryForever(), ct => _responder.SubscribeAsync(options.ShareGroup, ct),
                () => _subscribed.TrySetResult(), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_responder is { } r) await r.DisposeAsync();
        await HubMqtt.CloseAsync(_client, logger, cancellationToken);
    }
}
