using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Client;

/// <summary>
/// Session state of one unacknowledged QoS 1/2 publish (MQTT 5 §4.1): kept across reconnects until
/// PUBACK / PUBCOMP, resent on session resume. Mutated only under the client's session lock.
/// </summary>
internal sealed class OutgoingPublish(PublishPacket packet, long sequence)
{
    public PublishPacket Packet { get; set; } = packet;

    /// <summary>Send order, so resends keep the original order (§4.6).</summary>
    public long Sequence { get; } = sequence;

    /// <summary>Handed to a live connection at least once (so a resend carries DUP=1).</summary>
    public bool WasSent { get; set; }

    /// <summary>QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP.</summary>
    public bool Released { get; set; }

    public TaskCompletionSource<MqttPublishResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
