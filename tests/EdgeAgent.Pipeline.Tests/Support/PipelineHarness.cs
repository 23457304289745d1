using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Windowing;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Pipeline.Tests.Support;

/// <summary>Real pieces for pipeline tests: the generated INT8 CNN on ONNX Runtime, a SQLite outbox in a temp dir, MQTT clients.</summary>
internal static class PipelineHarness
{
    private static readonly Lazy<GeneratedModel> Cnn = new(() => QdqCnn1d.Generate());

    public static IReadOnlyList<string> Labels => Cnn.Value.Labels;

    public static WindowSpec Spec { get; } = new()
    {
        Length = 128, Hop = 64, Channels = ["ax", "ay", "az"], Layout = WindowLayout.ChannelsFirst,
    };

    /// <summary>Samples that make exactly <paramref name="windows"/> windows with <see cref="Spec"/>.</summary>
    public static long SamplesFor(int windows) => Spec.Length + (long)Spec.Hop * (windows - 1);

    public static InferenceEngine Engine() => InferenceEngine.Create(OnnxSession.Load(Cnn.Value.OnnxBytes));

    public static SyntheticSource Source(int windows, ulong seed = 3, Func<SyntheticSettings, SyntheticSettings>? tweak = null)
    {
        var settings = new SyntheticSettings { Seed = seed, RateHz = 50, RealTime = false, MaxSamples = SamplesFor(windows) };
        return new SyntheticSource(tweak is null ? settings : tweak(settings));
    }

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgeagent-pipeline-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Task<TelemetryOutbox> OpenOutboxAsync(string dir) =>
        TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = Path.Combine(dir, "outbox.db"), Durability = OutboxDurability.Normal });

    /// <summary>Payloads stored in the real outbox database for a stream (data events only).</summary>
    public static List<JsonElement> ReadOutbox(TelemetryOutbox outbox, EdgeAgent.Telemetry.Wire.TelemetryStream stream)
    {
        var list = new List<JsonElement>();
        using var connection = new SqliteConnection($"Data Source={outbox.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM events WHERE stream = $s AND kind = 0 ORDER BY seq";
        command.Parameters.AddWithValue("$s", (int)stream);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var bytes = (byte[])reader[0];
            list.Add(JsonDocument.Parse(bytes).RootElement.Clone());
        }
        return list;
    }

    /// <summary>A low-confidence cloud request for <paramref name="deviceId"/> (the CNN's [1,3,128] input, zeros).</summary>
    public static EdgeAgent.Pipeline.Cloud.CloudInferenceRequest CloudRequest(string deviceId, long window) => new()
    {
        DeviceId = deviceId, Model = "har-cnn", Window = window, Reason = "low-confidence", Shape = [1, 3, 128],
        Layout = "channels-first", Channels = ["ax", "ay", "az"], Labels = Labels, Input = new float[384],
        LocalLabel = "walk", LocalConfidence = 0.4f, LocalProbabilities = [0.3f, 0.4f, 0.1f, 0.2f],
    };

    public static async Task<MqttClient> ConnectAsync(int port, string clientId)
    {
        var client = new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp("127.0.0.1", port), ClientId = clientId,
            ReconnectMinDelay = TimeSpan.FromMilliseconds(200), ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        });
        await client.ConnectAsync();
        return client;
    }

    /// <summary>Results written by a <see cref="Outputs.JsonLinesOutput"/> into <paramref name="stream"/>.</summary>
    public static List<JsonElement> Lines(MemoryStream stream) =>
        System.Text.Encoding.UTF8.GetString(stream.ToArray())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToList();
}

/// <summary>
/// A test hub: answers cloud-tier requests on <c>edgeagent/v1/{id}/infer/req</c> with a fixed label after an
/// optional delay, or with a malformed body.
/// </summary>
internal sealed class CloudResponder : IAsyncDisposable
{
    private readonly MqttClient _client;
    private int _received;

    private CloudResponder(MqttClient client) => _client = client;

    public TimeSpan Delay { get; set; }
    public string Label { get; set; } = "run";
    public bool Malformed { get; set; }
    public int Received => Volatile.Read(ref _received);
    public List<CloudRequestSeen> Requests { get; } = [];

    public static async Task<CloudResponder> StartAsync(int port, string deviceId)
    {
        var client = await PipelineHarness.ConnectAsync(port, "hub-responder-" + Guid.NewGuid().ToString("N")[..6]);
        var responder = new CloudResponder(client);
        client.MessageHandler = responder.OnRequestAsync;
        await client.SubscribeAsync($"edgeagent/v1/{deviceId}/infer/req", MqttQualityOfService.AtLeastOnce);
        return responder;
    }

    private async ValueTask OnRequestAsync(MqttApplicationMessage message, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize(message.Payload.Span, PipelineJsonContext.Default.CloudInferenceRequest)!;
        lock (Requests) Requests.Add(new CloudRequestSeen(request.Window, request.Input.Length, request.LocalConfidence, request.Reason));
        Interlocked.Increment(ref _received);
        var delay = Delay;
        var label = Label;
        var malformed = Malformed;
        _ = Task.Run(async () =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay);
            byte[] body = malformed
                ? "{\"schema\":\"edgeagent.infer.response/1\",\"confidence\":\"high\""u8.ToArray()
                : JsonSerializer.SerializeToUtf8Bytes(new EdgeAgent.Pipeline.Cloud.CloudInferenceResponse { Label = label, Confidence = 0.99f, Model = "hub-large" },
                    PipelineJsonContext.Default.CloudInferenceResponse);
            try { await _client.PublishAsync(MqttApplicationMessage.ResponseTo(message, body)); }
            catch (Exception) { /* the test may have stopped the broker */ }
        });
        await ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _client.DisposeAsync();
}

internal sealed record CloudRequestSeen(long Window, int InputLength, float LocalConfidence, string Reason);
