using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Pipeline.Telemetry;
using Polly;
using Polly.CircuitBreaker;

namespace EdgeAgent.Pipeline.Cloud;

/// <summary>Settings of <see cref="CloudTier"/>.</summary>
public sealed record CloudTierOptions
{
    /// <summary>Device id: one MQTT topic level (the broker ACL is <c>edgeagent/v1/%u/#</c>).</summary>
    public required string DeviceId { get; init; }
    /// <summary>How long a request may take (publish + answer). After that the local answer stands.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(500);

    public string RequestTopic => $"edgeagent/v1/{DeviceId}/infer/req";
    public string ResponseTopic => $"edgeagent/v1/{DeviceId}/infer/res";
}

/// <summary>Result of <see cref="CloudTier.AskAsync"/>: the answer, or why there is none.</summary>
public readonly record struct CloudOutcome(CloudInferenceResponse? Response, FallbackReason Reason, string? Detail);

/// <summary>
/// The cloud inference tier seen from the device: MQTT 5 request/response (DESIGN.md §5,
/// <c>edgeagent/v1/{id}/infer/req</c> → <c>.../infer/res</c>), behind an injected circuit breaker
/// (<see cref="CloudResilience"/>) and a rate/budget cap (<see cref="CloudRequestBudget"/>).
/// </summary>
/// <remarks>
/// <para>Thread-safe: several workers may call <see cref="AskAsync"/> at once. The MQTT client is not owned
/// (the agent shares one connection); <see cref="DisposeAsync"/> only unsubscribes the response topic.</para>
/// <para>Failures never throw out of <see cref="AskAsync"/> (except cancellation): they become a
/// <see cref="FallbackReason"/>, because the caller's answer to every failure is the same — keep the
/// local answer and queue the case.</para>
/// </remarks>
public sealed class CloudTier : IAsyncDisposable
{
    private readonly MqttClient _client;
    private readonly ResiliencePipeline _resilience;
    private readonly CloudTierOptions _options;
    private readonly SemaphoreSlim _attach = new(1, 1);
    private MqttRequestClient? _requests;
    private long _attempts;

    private CloudTier(MqttClient client, MqttRequestClient? requests, ResiliencePipeline resilience, CloudRequestBudget budget, CloudTierOptions options)
    {
        _client = client;
        _requests = requests;
        _resilience = resilience;
        Budget = budget;
        _options = options;
    }

    /// <summary>True once the response topic is subscribed (<see cref="CreateAsync"/> or <see cref="AttachAsync"/>).</summary>
    public bool IsAttached => Volatile.Read(ref _requests) is not null;

    public CloudTierOptions Options => _options;
    public CloudRequestBudget Budget { get; }

    /// <summary>Requests that were actually handed to MQTT (not refused by the open circuit).</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Subscribes the response topic on <paramref name="client"/> (which must speak MQTT 5) and returns the tier.</summary>
    public static async Task<CloudTier> CreateAsync(MqttClient client, ResiliencePipeline resilience, CloudRequestBudget budget,
        CloudTierOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(resilience);
        ArgumentNullException.ThrowIfNull(budget);
        var tier = CreateDetached(client, resilience, budget, options);
        await tier.AttachAsync(cancellationToken).ConfigureAwait(false);
        return tier;
    }

    /// <summary>
    /// A tier that is not subscribed yet, for a device that starts offline: until <see cref="AttachAsync"/> succeeds
    /// (call it once the client has connected) every request falls back at once with reason <c>offline</c>.
    /// Later reconnects need nothing: the client re-subscribes the response topic itself.
    /// </summary>
    public static CloudTier CreateDetached(MqttClient client, ResiliencePipeline resilience, CloudRequestBudget budget, CloudTierOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(resilience);
        ArgumentNullException.ThrowIfNull(budget);
        EdgeAgent.Telemetry.Wire.TelemetryStreams.ValidateDeviceId(options.DeviceId);
        if (options.Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), options.Timeout, "cloud.timeout: must be positive");
        return new CloudTier(client, null, resilience, budget, options);
    }

    /// <summary>Subscribes the response topic (MQTT 5 only); does nothing when already attached. Safe to call concurrently.</summary>
    /// <exception cref="MqttClientNotConnectedException">The client is not connected; call again after it connects.</exception>
    public async Task AttachAsync(CancellationToken cancellationToken = default)
    {
        if (IsAttached) return;
        await _attach.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsAttached) return;
            var requests = await MqttRequestClient.CreateAsync(_client, _options.ResponseTopic, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _requests, requests);
        }
        finally
        {
            _attach.Release();
        }
    }

    /// <summary>Sends <paramref name="request"/> and waits at most <see cref="CloudTierOptions.Timeout"/> for the answer.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<CloudOutcome> AskAsync(CloudInferenceRequest request, CancellationToken cancellationToken)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(request, PipelineJsonContext.Default.CloudInferenceRequest);
        var message = new MqttApplicationMessage
        {
            Topic = _options.RequestTopic,
            Payload = body,
            QoS = MqttQualityOfService.AtLeastOnce,
            ContentType = "application/json",
            PayloadIsUtf8 = true,
            // The answer is useless after the deadline; let the broker drop a request it could not deliver in time (MQTT 5 §3.3.2.3.3).
            MessageExpiryInterval = (uint)Math.Max(1, Math.Ceiling(_options.Timeout.TotalSeconds)),
        };
        if (Volatile.Read(ref _requests) is not { } requests)
            return new CloudOutcome(null, FallbackReason.Offline, "cloud tier not attached yet: MQTT has not connected since start");
        try
        {
            var response = await _resilience.ExecuteAsync(static async (state, token) =>
            {
                var (self, requests, msg) = state;
                Interlocked.Increment(ref self._attempts);
                // The timeout covers the publish too: with a stalled broker the PUBACK never comes.
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                deadline.CancelAfter(self._options.Timeout);
                MqttApplicationMessage reply;
                try
                {
                    reply = await requests.RequestAsync(msg, self._options.Timeout, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    throw new TimeoutException($"no answer on '{self._options.ResponseTopic}' within {self._options.Timeout.TotalMilliseconds:0} ms");
                }
                return Parse(reply.Payload);
            }, (this, requests, message), cancellationToken).ConfigureAwait(false);
            return new CloudOutcome(response, FallbackReason.None, null);
        }
        catch (BrokenCircuitException e) { return new CloudOutcome(null, FallbackReason.CircuitOpen, e.Message); }
        catch (TimeoutException e) { return new CloudOutcome(null, FallbackReason.Timeout, e.Message); }
        catch (MqttClientNotConnectedException e) { return new CloudOutcome(null, FallbackReason.Offline, e.Message); }
        catch (MqttConnectionLostException e) { return new CloudOutcome(null, FallbackReason.Offline, e.Message); }
        catch (MqttPublishException e) { return new CloudOutcome(null, FallbackReason.CloudError, e.Message); }
        catch (CloudTierResponseException e) { return new CloudOutcome(null, FallbackReason.CloudError, e.Message); }
    }

    /// <summary>Parses and checks an answer body.</summary>
    /// <exception cref="CloudTierResponseException">Malformed, wrong schema, an error answer, or confidence outside [0, 1].</exception>
    public static CloudInferenceResponse Parse(ReadOnlyMemory<byte> payload)
    {
        CloudInferenceResponse? response;
        try
        {
            response = JsonSerializer.Deserialize(payload.Span, PipelineJsonContext.Default.CloudInferenceResponse);
        }
        catch (JsonException e)
        {
            throw new CloudTierResponseException($"cloud answer is not valid edgeagent.infer.response/1 JSON: {e.Message}", e);
        }
        if (response is null) throw new CloudTierResponseException("cloud answer is JSON null");
        if (response.Schema != "edgeagent.infer.response/1")
            throw new CloudTierResponseException($"cloud answer has schema '{response.Schema}', expected 'edgeagent.infer.response/1'");
        if (response.Error is { } error) throw new CloudTierResponseException($"cloud tier could not answer: {error}");
        if (string.IsNullOrWhiteSpace(response.Label)) throw new CloudTierResponseException("cloud answer has neither 'label' nor 'error'");
        if (!(response.Confidence >= 0 && response.Confidence <= 1))
            throw new CloudTierResponseException($"cloud answer confidence {response.Confidence} is outside [0, 1]");
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _requests, null) is { } requests) await requests.DisposeAsync().ConfigureAwait(false);
        _attach.Dispose();
    }
}
