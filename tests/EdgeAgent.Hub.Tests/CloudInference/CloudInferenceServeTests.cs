using System.Text.Json;
using EdgeAgent.Hub.CloudInference;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.CloudInference;

/// <summary><c>edgehub serve</c> with MQTT answers the cloud tier out of the box (hosted responder, own client).</summary>
public sealed class CloudInferenceServeTests : IAsyncLifetime
{
    private MosquittoBroker _broker = null!;
    private RunningHub _hub = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = await RunningHub.StartAsync("127.0.0.1", _broker.Port);
        await _hub.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task A_running_hub_answers_an_inference_request_and_records_the_hard_case()
    {
        var model = QdqMlp.Generate();
        await _hub.Store.RegisterModelAsync(new ModelRecord("vib-mlp", "2.0.0", model.OnnxBytes.Length, new string('0', 64), "c", "{}"u8.ToArray(), null, "test", DateTimeOffset.UtcNow),
            model.OnnxBytes, null);
        // The responder is a hosted service of the app; wait until its subscription is in place.
        var service = _hub.Service<CloudInferenceService>();
        await service.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));

        var sample = model.ReferenceSamples(1, firstSeed: 3)[0];
        float[] expected = sample.ExpectedOutput.GetData<float>();
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-line-4" });
        await device.ConnectAsync();
        await using var requests = await MqttRequestClient.CreateAsync(device, "edgeagent/v1/line-4/infer/res");
        var request = new CloudInferenceRequest
        {
            DeviceId = "line-4", Model = "vib-mlp", Window = 9, WindowEnd = DateTimeOffset.UtcNow, Reason = "out-of-distribution",
            Shape = model.InputShape, Layout = "channels-first", Channels = ["x"], Labels = model.Labels, Input = sample.Input.GetData<float>(),
            LocalLabel = model.Labels[1], LocalConfidence = 0.3f, LocalProbabilities = new float[model.Labels.Count], DeadlineMs = 5000,
        };
        var reply = await requests.RequestAsync(new MqttApplicationMessage
        {
            Topic = "edgeagent/v1/line-4/infer/req",
            Payload = JsonSerializer.SerializeToUtf8Bytes(request, PipelineJsonContext.Default.CloudInferenceRequest),
        }, TimeSpan.FromSeconds(30));

        var answer = CloudTier.Parse(reply.Payload);
        Assert.Equal(model.Labels[Array.IndexOf(expected, expected.Max())], answer.Label);
        Assert.Equal("vib-mlp@2.0.0", answer.Model);
        var row = Assert.Single(await _hub.Store.ListHardCasesAsync("line-4", 10));
        Assert.Equal("out-of-distribution", row.Reason);
        Assert.Equal(answer.Label, row.CloudLabel);

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var listed = System.Text.Json.Nodes.JsonNode.Parse(await reader.GetStringAsync("api/v1/hard-cases?device=line-4"))!.AsArray();
        var view = Assert.Single(listed)!;
        Assert.Equal(answer.Label, (string?)view["cloudLabel"]);
        Assert.Equal("line-4", (string?)view["request"]!["deviceId"]);
        Assert.Equal(64, view["request"]!["input"]!.AsArray().Count);
    }
}
