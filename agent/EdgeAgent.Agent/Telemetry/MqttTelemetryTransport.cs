using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Outbox.Drain;

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
}
