using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Telemetry;

/// <summary>
/// The outbox drainer's transport over our MQTT client: one QoS 1 PUBLISH per batch, complete on PUBACK.
/// A PUBACK reason ≥ 0x80 surfaces as <see cref="MqttPublishException"/> and a lost connection as the
/// client's exception, so the drainer keeps the rows and retries the same seqs (the hub deduplicates).
/// </summary>
/// <remarks>Thread-safe: the client serialises writes and keeps its own in-flight window, which never
/// exceeds the broker's Receive Maximum, so the drainer's concurrent publishes need no extra locking.</remarks>
public sealed class MqttTelemetryTransport(MqttClient client) : ITelemetryTransport
{
    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken)
    {
        await client.PublishAsync(new MqttApplicationMessage
        {
            Topic = topic,
            Payload = payload,
            QoS = MqttQualityOfService.AtLeastOnce,
            ContentType = contentType,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Wires the end-to-end acknowledgement (shared/EdgeAgent.Telemetry README, "Acknowledgement") into
    /// <paramref name="client"/>: subscribes to <c>edgeagent/v1/{deviceId}/ack</c> after every connect
    /// (the device's session is clean, and a broker that restarted forgets subscriptions), hands ack
    /// messages to <see cref="TelemetryOutbox.AcknowledgeMessageAsync"/> (malformed ones are counted
    /// there, never thrown), and on every re-connect makes what awaited an ack pending again
    /// (<see cref="TelemetryOutbox.RequeueAwaitingAck"/>): a broker that restarted may have lost what it
    /// had PUBACKed (docs/CHAOS.md bug 3). Other messages go to the handler that was set before (chained,
    /// like <c>UpdateLoop.AttachMqtt</c>). Use with <c>DrainerOptions.AwaitHubAck = true</c>.
    /// </summary>
    /// <remarks>Call once, before or after connecting. Thread-safe as the client's events are.</remarks>
    public static void AttachAcks(MqttClient client, string deviceId, TelemetryOutbox outbox, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(outbox);
        var ackTopic = TelemetryStreams.AckTopic(deviceId);
        var previous = client.MessageHandler;
        client.MessageHandler = async (message, ct) =>
        {
            if (message.Topic == ackTopic) await outbox.AcknowledgeMessageAsync(message.Payload, ct).ConfigureAwait(false);
            else if (previous is not null) await previous(message, ct).ConfigureAwait(false);
        };
        var connects = client.State == MqttConnectionState.Connected ? 1 : 0;
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State != MqttConnectionState.Connected) return;
            if (Interlocked.Increment(ref connects) > 1) outbox.RequeueAwaitingAck();
            _ = SubscribeAcksAsync(client, ackTopic, logger);
        };
        if (client.State == MqttConnectionState.Connected) _ = SubscribeAcksAsync(client, ackTopic, logger);
    }

    private static async Task SubscribeAcksAsync(MqttClient client, string ackTopic, ILogger? logger)
    {
        try
        {
            var result = await client.SubscribeAsync(ackTopic).ConfigureAwait(false);
            if (!result.AllSucceeded)
                logger?.LogError("Broker refused the ack subscription {Topic} ({Codes}); telemetry will be re-sent after every ack timeout. Check the broker ACL",
                    ackTopic, string.Join(",", result.ReasonCodes));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The connection dropped meanwhile; the next connect subscribes again.
            logger?.LogWarning("Ack subscription {Topic} failed ({Error}); retried at the next connect", ackTopic, e.Message);
        }
    }
}
