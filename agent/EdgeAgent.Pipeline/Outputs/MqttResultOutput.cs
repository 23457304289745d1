using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Outputs;

/// <summary>
/// Publishes each result as JSON to a local MQTT topic (e.g. for Node-RED or a PLC gateway on the device).
/// QoS 0 by default: a result is only useful now, and the outbox keeps the durable copy.
/// </summary>
/// <remarks>The client is not owned. Offline publishes fail (counted by the pipeline) unless the client waits by policy.</remarks>
public sealed class MqttResultOutput(MqttClient client, string topic, MqttQualityOfService qos = MqttQualityOfService.AtMostOnce, bool retain = false) : IResultOutput
{
    public string Name { get; } = $"mqtt:{topic}";

    public async ValueTask WriteAsync(PipelineResult result, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(result, PipelineJsonContext.Default.PipelineResult);
        await client.PublishAsync(new MqttApplicationMessage
        {
            Topic = topic, Payload = body, QoS = qos, Retain = retain, ContentType = "application/json", PayloadIsUtf8 = true,
        }, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
