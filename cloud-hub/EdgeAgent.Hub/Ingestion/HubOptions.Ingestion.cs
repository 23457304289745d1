namespace EdgeAgent.Hub.Hosting;

public sealed partial record HubOptions
{
    /// <summary>
    /// Most MQTT messages the hub stores in one transaction (<see cref="EdgeAgent.Mqtt.MqttClientOptions.MaxMessageBatchSize"/>,
    /// 1–65,535). The hub never waits to fill a batch: it takes what has queued while the previous commit ran, so an
    /// idle hub stores each message at once and a busy one amortises the commit (docs/bench/hub.md, "Batched ingest").
    /// 1 stores message by message.
    /// </summary>
    public int IngestBatchSize { get; init; } = 256;
}
