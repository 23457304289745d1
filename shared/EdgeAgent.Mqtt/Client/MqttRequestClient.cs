using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt;

/// <summary>
/// Request/response over MQTT 5 (§4.10): each request carries our Response Topic and fresh random
/// Correlation Data; the reply with the same Correlation Data completes it. Responses are taken out
/// of the client's message stream before <see cref="MqttClient.MessageHandler"/> sees them; late
/// responses (after timeout/cancellation) are dropped. Thread safe; many requests may be in flight.
/// </summary>
public sealed class MqttRequestClient : IAsyncDisposable
{
    private readonly MqttClient _client;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<MqttApplicationMessage>> _pending = new(StringComparer.Ordinal);
    private readonly IDisposable _registration;

    private MqttRequestClient(MqttClient client, string responseTopic)
    {
        _client = client;
        ResponseTopic = responseTopic;
        _registration = client.AddInterceptor(OnMessage);
    }

    public string ResponseTopic { get; }

    /// <summary>Subscribes to <paramref name="responseTopic"/> (a topic name, no wildcards) and returns the helper.</summary>
    public static async Task<MqttRequestClient> CreateAsync(MqttClient client, string responseTopic, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!MqttTopic.IsValidTopicName(responseTopic))
        {
            throw new ArgumentException($"Response topic '{responseTopic}' must be a topic name without wildcards.", nameof(responseTopic));
        }

        if (client.Options.ProtocolVersion != MqttProtocolVersion.V500)
        {
            throw new NotSupportedException("Request/response needs MQTT 5 (Response Topic and Correlation Data properties).");
        }

        var helper = new MqttRequestClient(client, responseTopic);
        try
        {
            await client.SubscribeAsync([new MqttTopicSubscription(responseTopic, MqttQualityOfService.AtLeastOnce, NoLocal: true)], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            helper._registration.Dispose();
            throw;
        }

        return helper;
    }

    /// <summary>
    /// Publishes <paramref name="request"/> with our Response Topic and new Correlation Data and
    /// waits for the reply. Throws <see cref="TimeoutException"/> after <paramref name="timeout"/>,
    /// <see cref="OperationCanceledException"/> on cancellation.
    /// </summary>
    public async Task<MqttApplicationMessage> RequestAsync(MqttApplicationMessage request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        byte[] correlation = RandomNumberGenerator.GetBytes(16);
        string key = Convert.ToHexString(correlation);
        var completion = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = completion;
        try
        {
            await _client.PublishAsync(request with { ResponseTopic = ResponseTopic, CorrelationData = correlation }, cancellationToken).ConfigureAwait(false);
            try
            {
                return await completion.Task.WaitAsync(timeout, _client.Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"No response on '{ResponseTopic}' to the request on '{request.Topic}' within {timeout.TotalSeconds:0.###} s.");
            }
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    private bool OnMessage(MqttApplicationMessage message)
    {
        if (!string.Equals(message.Topic, ResponseTopic, StringComparison.Ordinal))
        {
            return false;
        }

        if (message.CorrelationData is { } data && _pending.TryRemove(Convert.ToHexString(data.Span), out var completion))
        {
            completion.TrySetResult(message);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _registration.Dispose();
        foreach (var pending in _pending.Values)
        {
            pending.TrySetCanceled();
        }

        if (_client.State == MqttConnectionState.Connected)
        {
            try
            {
                await _client.UnsubscribeAsync([ResponseTopic]).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MqttClientNotConnectedException or MqttConnectionLostException)
            {
                // Gone anyway.
            }
        }
    }
}
