using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt;

/// <summary>The broker refused the connection (CONNACK reason ≥ 0x80).</summary>
public sealed class MqttConnectException(MqttReasonCode reasonCode, string? reasonString, string endpoint)
    : Exception($"Broker {endpoint} refused the connection: {reasonCode} (0x{(byte)reasonCode:X2}){(reasonString is null ? "" : $", \"{reasonString}\"")}. {Advice(reasonCode)}")
{
    public MqttReasonCode ReasonCode { get; } = reasonCode;

    public string? ReasonString { get; } = reasonString;

    private static string Advice(MqttReasonCode code) => code switch
    {
        MqttReasonCode.BadUserNameOrPassword => "Check the user name and password (broker password_file).",
        MqttReasonCode.NotAuthorized => "This identity may not connect: check the user name and password (Mosquitto also reports a wrong password this way), allow_anonymous, or the certificate identity.",
        MqttReasonCode.ClientIdentifierNotValid => "Use a client id the broker accepts (or an empty one with clean start).",
        MqttReasonCode.UnsupportedProtocolVersion => "The broker does not speak this MQTT version; try 3.1.1.",
        MqttReasonCode.ServerUnavailable or MqttReasonCode.ServerBusy => "The broker is temporarily unavailable; retry later.",
        _ => "See the broker log for details.",
    };
}

/// <summary>The broker answered a PUBLISH with a failure reason (≥ 0x80), e.g. 0x87 Not authorized by ACL.</summary>
public sealed class MqttPublishException(string topic, MqttReasonCode reasonCode, string? reasonString)
    : Exception($"Publish to '{topic}' failed: {reasonCode} (0x{(byte)reasonCode:X2}){(reasonString is null ? "" : $", \"{reasonString}\"")}.")
{
    public string Topic { get; } = topic;

    public MqttReasonCode ReasonCode { get; } = reasonCode;
}

/// <summary>A SUBSCRIBE or UNSUBSCRIBE filter was refused by the broker (e.g. 0x87 Not authorized).</summary>
public sealed class MqttSubscribeException(string topicFilter, MqttReasonCode reasonCode, string? reasonString)
    : Exception($"Subscription '{topicFilter}' refused: {reasonCode} (0x{(byte)reasonCode:X2}){(reasonString is null ? "" : $", \"{reasonString}\"")}.")
{
    public string TopicFilter { get; } = topicFilter;

    public MqttReasonCode ReasonCode { get; } = reasonCode;
}

/// <summary>The client is not connected and the offline policy says not to wait (or the wait bound passed).</summary>
public sealed class MqttClientNotConnectedException(string message) : Exception(message);

/// <summary>The network connection ended (peer closed, I/O error).</summary>
public class MqttConnectionLostException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>No PINGRESP arrived in time: the link is considered dead.</summary>
public sealed class MqttKeepAliveTimeoutException(TimeSpan timeout)
    : MqttConnectionLostException($"No PINGRESP from the broker within {timeout.TotalSeconds:0.###} s; the connection is considered dead.");

/// <summary>The broker sent DISCONNECT (MQTT 5 §3.14) with this reason.</summary>
public sealed class MqttServerDisconnectException(MqttReasonCode reasonCode, string? reasonString, string? serverReference)
    : MqttConnectionLostException($"The broker disconnected us: {reasonCode} (0x{(byte)reasonCode:X2}){(reasonString is null ? "" : $", \"{reasonString}\"")}{(serverReference is null ? "" : $", use server {serverReference}")}.")
{
    public MqttReasonCode ReasonCode { get; } = reasonCode;
}

/// <summary>The packet is larger than the broker's Maximum Packet Size (MQTT 5 §3.1.2.11.4); it was not sent.</summary>
public sealed class MqttPacketTooLargeException(int size, uint maximum)
    : Exception($"The message encodes to {size} bytes but the broker accepts at most {maximum}; it was not sent.")
{
    public int Size { get; } = size;
}
