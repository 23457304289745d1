using EdgeAgent.Mqtt;

namespace EdgeAgent.Hub.Hosting;

/// <summary>
/// One place that turns <see cref="HubOptions"/> into MQTT client options, so every hub connection
/// (ingestion, cloud tier, fleet hint) uses the same broker, TLS identity and session settings and differs
/// only in its client id suffix.
/// </summary>
public static class HubMqtt
{
    /// <param name="suffix">Appended to <see cref="HubOptions.MqttClientId"/> ("" for the ingestion client): client ids must be unique per connection.</param>
    public static MqttClientOptions ClientOptions(HubOptions options, string suffix, TimeProvider time) => new()
    {
        Endpoint = MqttEndpoint.Tcp(options.MqttHost ?? throw new InvalidOperationException("the hub runs without MQTT (--mqtt not set)"), options.MqttPort),
        Tls = options.MqttCaFile is null && options.MqttCertFile is null ? null
            : MqttTlsPemFiles.Load(options.MqttCaFile, options.MqttCertFile, options.MqttKeyFile, options.MqttHost, "--mqtt-"),
        ClientId = options.MqttClientId + suffix,
        CleanStart = false,
        SessionExpiryInterval = 3600,
        TimeProvider = time,
    };
}
