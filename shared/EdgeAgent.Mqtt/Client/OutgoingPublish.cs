using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Client;

/// <summary>
/// Session state of one QoS 1/2 publish (MQTT 5 §4.1), from the call until PUBACK / PUBCOMP: first
/// waiting for an in-flight slot, then unacknowledged (kept across reconnects, resent on session
/// resume). Mutated only under the client's session lock.
/// </summary>
internal sealed class OutgoingPublish(MqttApplicationMessage message)
{
    public MqttApplicationMessage Message { get; } = message;

    /// <summary>Set when the publish gets its slot and packet id.</summary>
    public PublishPacket? Packet { get; set; }

    /// <summary>Send order, so resends keep the original order (§4.6).</summary>
    public long Sequence { get; set; }

    /// <summary>Handed to a live connection at least once (so a resend carries DUP=1).</summary>
    public bool WasSent { get; set; }

    /// <summary>QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP.</summary>
    public bool Released { get; set; }

    /// <summary>The caller gave up while it was still waiting for a slot; skip it.</summary>
    public bool Abandoned { get; set; }

    public TaskCompletionSource<MqttPublishResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
