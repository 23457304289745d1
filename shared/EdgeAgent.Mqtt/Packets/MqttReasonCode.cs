namespace EdgeAgent.Mqtt.Packets;

/// <summary>
/// MQTT 5 reason codes (§2.4). The same numeric value can carry a different name depending on the
/// packet (0x00 is Success, Normal disconnection and Granted QoS 0); the names here follow the most
/// common meaning. MQTT 3.1.1 return codes are translated into these by the 3.1.1 codec.
/// Values ≥ 0x80 are failures.
/// </summary>
public enum MqttReasonCode : byte
{
    Success = 0x00,
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWillMessage = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
}

/// <summary>Quality of service levels (MQTT §4.3).</summary>
public enum MqttQualityOfService : byte
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

/// <summary>Protocol level byte of CONNECT: 4 = 3.1.1, 5 = 5.0.</summary>
public enum MqttProtocolVersion : byte
{
    V311 = 4,
    V500 = 5,
}

/// <summary>SUBSCRIBE retain handling option (MQTT 5 §3.8.3.1).</summary>
public enum MqttRetainHandling : byte
{
    SendAtSubscribe = 0,
    SendAtSubscribeIfNew = 1,
    DoNotSend = 2,
}

/// <summary>A UTF-8 string pair (MQTT 5 §1.5.7). Order and duplicates are significant.</summary>
public readonly record struct MqttUserProperty(string Name, string Value);

/// <summary>One entry of a SUBSCRIBE packet (MQTT 5 §3.8.3).</summary>
/// <param name="TopicFilter">Filter, possibly <c>$share/{group}/{filter}</c>.</param>
/// <param name="MaximumQoS">Highest QoS the broker may use to deliver.</param>
/// <param name="NoLocal">Do not receive own publications (MQTT 5 only; not allowed on shared subscriptions).</param>
/// <param name="RetainAsPublished">Keep the RETAIN flag as published (MQTT 5 only).</param>
/// <param name="RetainHandling">When retained messages are sent (MQTT 5 only).</param>
public sealed record MqttTopicSubscription(
    string TopicFilter,
    MqttQualityOfService MaximumQoS = MqttQualityOfService.AtLeastOnce,
    bool NoLocal = false,
    bool RetainAsPublished = false,
    MqttRetainHandling RetainHandling = MqttRetainHandling.SendAtSubscribe);
