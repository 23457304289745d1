namespace EdgeAgent.Outbox.Drain;

/// <summary>
/// What the drainer needs from MQTT: publish one message with QoS 1 and learn whether the broker
/// acknowledged it. The agent adapts shared/EdgeAgent.Mqtt to this; tests inject faults with it.
/// </summary>
/// <remarks>Implementations must allow concurrent calls (the drainer keeps up to
/// <see cref="DrainerOptions.MaxInFlight"/> publishes outstanding, on different topics or streams).</remarks>
public interface ITelemetryTransport
{
    /// <summary>
    /// Publishes <paramref name="payload"/> to <paramref name="topic"/> at QoS 1 with the MQTT 5
    /// content type <paramref name="contentType"/>. The task completes when a PUBACK with a success
    /// reason code (&lt; 0x80) arrived, and throws otherwise (error reason code, connection lost,
    /// not connected). The payload memory is owned by the drainer and stays valid until the task ends.
    /// </summary>
    /// <remarks>On cancellation the drainer treats the message as not delivered and will publish the
    /// same events (same seqs) again later; the hub's dedup removes the duplicate if it did arrive.</remarks>
    ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken);
}
