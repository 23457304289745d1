using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// The peer sent bytes that violate the protocol. <see cref="ReasonCode"/> is what we send in the
/// DISCONNECT before closing (MQTT 5 §4.13): 0x81 Malformed Packet, 0x82 Protocol Error,
/// 0x95 Packet Too Large, 0x94 Topic Alias Invalid.
/// </summary>
public sealed class MqttProtocolException(MqttReasonCode reasonCode, string message) : Exception(message)
{
    public MqttReasonCode ReasonCode { get; } = reasonCode;

    internal static MqttProtocolException Malformed(string message) => new(MqttReasonCode.MalformedPacket, message);

    internal static MqttProtocolException Violation(string message) => new(MqttReasonCode.ProtocolError, message);
}
