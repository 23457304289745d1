using System.Text.Json;
using EdgeAgent.Hub.CloudInference;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.TestSupport.Mosquitto;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace EdgeAgent.Hub.Tests.CloudInference;

/// <summary>
/// The hub's cloud-tier responder against a real Mosquitto, a real SQLite store and the real ONNX Runtime;
/// the device side is an MQTT 5 <see cref="MqttRequestClient"/> speaking the pipeline's contract types.
/// </summary>
public sealed class CloudInferenceResponderTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgehub-cloud-").FullName;
    private MosquittoBroker _broker = null!;
    private SqliteHubStore _store = null!;
    private MqttClient _hubClient = null!;
    private CloudInferenceResponder _responder = null!;
    private static readonly GeneratedModel Model = QdqMlp.Generate();

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _store = new SqliteHubStore(Path.Combine(_dir, "hub.db"));
        await _store.MigrateAsync();
        _hubClient = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "hub-cloud" });
        await _hubClient.ConnectAsync();
        _responder = new CloudInferenceResponder(_hubClient, _store, TimeProvider.System, NullLogger.Instance, Path.Combine(_dir, "models"));
        await _responder.SubscribeAsync("hub", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _responder.DisposeAsync();
        await _hubClient.DisposeAsync();
        await _store.DisposeAsync();
        await _broker.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private async Task RegisterAsync(string name, string version, DateTimeOffset? at = null) =>
        await _store.RegisterModelAsync(new ModelRecord(name, version, Model.OnnxBytes.Length, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Model.OnnxBytes)),
            "[1,64] float32 -> [1,4] float32", "{}"u8.ToArray(), null, "test", at ?? DateTimeOffset.UtcNow), Model.OnnxBytes, null);

    private static CloudInferenceRequest Request(string deviceId, string model, float[] input) => new()
    {
        DeviceId = deviceId, Model = model, Generation = 1, Window = 4711, WindowEnd = DateTimeOffset.Parse("2026-11-22T06:00:00.12+00:00"),
        Reason = "low-confidence", Shape = Model.InputShape, Layout = "channels-first", Channels = ["x"], Labels = Model.Labels,
        Input = input, LocalLabel = Model.Labels[0], LocalConfidence = 0.41f,
        LocalProbabilities = Enumerable.Repeat(1f / Model.Labels.Count, Model.Labels.Count).ToArray(), DeadlineMs = 5000,
    };

    private async Task<CloudInferenceResponse> AskAsync(string deviceId, CloudInferenceRequest request)
    {
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + deviceId });
        await device.ConnectAsync();
        await using var requests = await MqttRequestClient.CreateAsync(device, $"edgeagent/v1/{deviceId}/infer/res");
        var reply = await requests.RequestAsync(new MqttApplicationMessage
        {
            Topic = $"edgeagent/v1/{deviceId}/infer/req",
            Payload = JsonSerializer.SerializeToUtf8Bytes(request, PipelineJsonContext.Default.CloudInferenceRequest),
            ContentType = "application/json",
        }, TimeSpan.FromSeconds(30));
        // The device's own parser: schema, exactly one of label/error (CloudTier.Parse).
        return reply.Payload.Length > 0 && JsonDocument.Parse(reply.Payload).RootElement.TryGetProperty("error", out _)
            ? JsonSerializer.Deserialize(reply.Payload.Span, PipelineJsonContext.Default.CloudInferenceResponse)!
            : EdgeAgent.Pipeline.Cloud.CloudTier.Parse(reply.Payload);
    }

    [Fact]
    public async Task A_hard_case_is_answered_by_the_registered_model_and_kept_for_labeling()
    {
        await RegisterAsync("vib-mlp", "1.0.0");
        var sample = Model.ReferenceSamples(1, firstSeed: 7)[0];
        float[] input = sample.Input.GetData<float>();
        float[] expected = sample.ExpectedOutput.GetData<float>();
        int expectedBest = Array.IndexOf(expected, expected.Max());

        var answer = await AskAsync("press-17", Request("press-17", "vib-mlp", input));

        Assert.Null(answer.Error);
        Assert.Equal(Model.Labels[expectedBest], answer.Label);
        Assert.InRange(answer.Confidence, expected[expectedBest] - Model.ProbabilityTolerance, expected[expectedBest] + Model.ProbabilityTolerance);
        Assert.Equal("vib-mlp@1.0.0", answer.Model);

        var row = Assert.Single(await _store.ListHardCasesAsync("press-17", 10));
        Assert.Equal("vib-mlp", row.Model);
        Assert.Equal(4711, row.Window);
        Assert.Equal(Model.Labels[0], row.LocalLabel);
        Assert.Equal(0.41, row.LocalConfidence, 3);
        Assert.Equal(answer.Label, row.CloudLabel);
        Assert.Null(row.Error);
        var stored = JsonSerializer.Deserialize(row.RequestJson, PipelineJsonContext.Default.CloudInferenceRequest)!;
        Assert.Equal(input, stored.Input);
    }

    [Fact]
    public async Task A_version_registered_later_answers_the_next_request()
    {
        var t = DateTimeOffset.UtcNow;
        await RegisterAsync("vib-mlp", "1.0.0", t);
        Assert.Equal("vib-mlp@1.0.0", (await AskAsync("press-21", Request("press-21", "vib-mlp", new float[64]))).Model);
        await RegisterAsync("vib-mlp", "1.1.0", t.AddMinutes(1));
        Assert.Equal("vib-mlp@1.1.0", (await AskAsync("press-21", Request("press-21", "vib-mlp", new float[64]))).Model);
    }

    [Fact]
    public async Task A_device_sending_family_at_version_is_answered_by_the_familys_cloud_model_when_one_is_registered()
    {
        var t = DateTimeOffset.UtcNow;
        await RegisterAsync("vib-mlp", "1.0.0", t);
        Assert.Equal("vib-mlp@1.0.0", (await AskAsync("press-22", Request("press-22", "vib-mlp@1.0.0", new float[64]))).Model);
        await RegisterAsync("vib-mlp-cloud", "3.0.0", t.AddMinutes(-5));
        await RegisterAsync("vib-mlp", "1.1.0", t.AddMinutes(1));
        Assert.Equal("vib-mlp-cloud@3.0.0", (await AskAsync("press-22", Request("press-22", "vib-mlp@1.0.0", new float[64]))).Model);
    }

    [Fact]
    public async Task An_unknown_model_gets_an_error_answer_that_is_also_recorded()
    {
        var answer = await AskAsync("press-18", Request("press-18", "no-such-model", new float[64]));
        Assert.StartsWith("model no-such-model unknown: register 'no-such-model-cloud'", answer.Error);
        Assert.Null(answer.Label);
        var row = Assert.Single(await _store.ListHardCasesAsync("press-18", 10));
        Assert.Equal(answer.Error, row.Error);
        Assert.Null(row.CloudLabel);
    }

    [Fact]
    public async Task A_window_of_the_wrong_shape_gets_an_error_naming_the_expected_shape()
    {
        await RegisterAsync("vib-mlp", "1.0.0");
        var answer = await AskAsync("press-19", Request("press-19", "vib-mlp", new float[63]) with { Shape = [1, 63] });
        Assert.NotNull(answer.Error);
        Assert.Contains("[1,64]", answer.Error);
    }

    [Fact]
    public async Task A_request_naming_another_device_is_answered_with_an_error_and_kept_as_rejected()
    {
        await RegisterAsync("vib-mlp", "1.0.0");
        var answer = await AskAsync("press-20", Request("press-99", "vib-mlp", new float[64]));
        Assert.Contains("does not match the topic's 'press-20'", answer.Error);
        Assert.Empty(await _store.ListHardCasesAsync(null, 10));
        Assert.Contains(await _store.ListRejectedMessagesAsync(10), r => r.Topic == "edgeagent/v1/press-20/infer/req");
    }
}
