using System.Collections.Concurrent;
using System.Text.Json;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.CloudInference;

/// <summary>
/// The hub side of the agent's cloud tier (agent/EdgeAgent.Pipeline/README.md, "Cloud tier contract"):
/// takes <c>edgeagent.infer.request/1</c> from <c>$share/{group}/edgeagent/v1/+/infer/req</c>, runs the
/// registered model of the requested name (newest registration) and answers on the request's MQTT 5
/// Response Topic with its Correlation Data (MQTT 5 §4.10). Every answered request, error answers
/// included, is kept as a hard case (<see cref="IHubStore.RecordHardCaseAsync"/>) for labeling.
/// </summary>
/// <remarks>
/// The JSON types are the pipeline's own (<see cref="CloudInferenceRequest"/>, <see cref="PipelineJsonContext"/>),
/// so both ends share one definition. Ownership: the responder installs itself as the client's
/// <see cref="MqttClient.MessageHandler"/> (give it a client of its own) and owns the loaded engines
/// (disposed with it); the client stays the caller's. Thread safety: messages may be handled
/// concurrently; each name@version is loaded once (<see cref="Lazy{T}"/>) and <see cref="InferenceEngine"/> is thread-safe.
/// Engines of superseded versions stay loaded until the responder is disposed (requests may still be running on them).
/// A request without a Response Topic cannot be answered: it is recorded in <c>rejected_messages</c>.
/// </remarks>
public sealed class CloudInferenceResponder : IAsyncDisposable
{
    private readonly MqttClient _client;
    private readonly IHubStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _modelDirectory;
    private readonly ConcurrentDictionary<string, Lazy<Task<LoadedModel>>> _models = new(StringComparer.Ordinal);

    private sealed record LoadedModel(string Name, string Version, InferenceEngine Engine);

    /// <param name="modelDirectory">Where model files are written for ONNX Runtime to load (created; files are per name/version).</param>
    public CloudInferenceResponder(MqttClient client, IHubStore store, TimeProvider time, ILogger logger, string modelDirectory)
    {
        _client = client;
        _store = store;
        _time = time;
        _logger = logger;
        _modelDirectory = modelDirectory;
        Directory.CreateDirectory(modelDirectory);
        client.MessageHandler = HandleAsync;
    }

    /// <summary>The shared subscription the responder needs (one per hub instance group).</summary>
    public static string TopicFilter(string shareGroup) => $"$share/{shareGroup}/edgeagent/v1/+/infer/req";

    /// <summary>Subscribes (QoS 1) on a connected client.</summary>
    /// <exception cref="InvalidOperationException">The broker refused the subscription (ACL).</exception>
    public async Task SubscribeAsync(string shareGroup, CancellationToken ct)
    {
        var result = await _client.SubscribeAsync([new MqttTopicSubscription(TopicFilter(shareGroup), MqttQualityOfService.AtLeastOnce)], cancellationToken: ct);
        if (!result.AllSucceeded)
            throw new InvalidOperationException($"The broker refused '{TopicFilter(shareGroup)}' ({string.Join(",", result.ReasonCodes)} {result.ReasonString}); the hub identity needs read access to edgeagent/v1/+/infer/req.");
    }

    private async ValueTask HandleAsync(MqttApplicationMessage message, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (message.ResponseTopic is null)
        {
            await _store.RecordRejectedMessageAsync(message.Topic, "inference request without MQTT 5 Response Topic: cannot be answered", message.Payload, now, ct);
            return;
        }

        string topicDevice = DeviceOf(message.Topic);
        CloudInferenceRequest? request = null;
        CloudInferenceResponse response;
        try
        {
            request = JsonSerializer.Deserialize(message.Payload.Span, PipelineJsonContext.Default.CloudInferenceRequest);
            response = request is null ? Error("request body is null")
                : request.Schema != "edgeagent.infer.request/1" ? Error($"schema '{request.Schema}' is not edgeagent.infer.request/1")
                : request.DeviceId != topicDevice ? Error($"deviceId '{request.DeviceId}' does not match the topic's '{topicDevice}'")
                : await InferAsync(request, ct);
        }
        catch (JsonException e)
        {
            response = Error("request is not edgeagent.infer.request/1 JSON: " + e.Message);
        }

        if (request is null || response.Error is { } && request.DeviceId != topicDevice)
        {
            await _store.RecordRejectedMessageAsync(message.Topic, response.Error ?? "bad request", message.Payload, now, ct);
        }
        else
        {
            await _store.RecordHardCaseAsync(new HardCaseRecord(0, now, topicDevice, request.Model, request.Window, request.WindowEnd, request.Reason,
                request.LocalLabel, request.LocalConfidence, response.Label, response.Label is null ? null : response.Confidence, response.Model,
                response.Error, System.Text.Encoding.UTF8.GetString(message.Payload.Span)), ct);
        }

        byte[] body = JsonSerializer.SerializeToUtf8Bytes(response, PipelineJsonContext.Default.CloudInferenceResponse);
        await _client.PublishAsync(MqttApplicationMessage.ResponseTo(message, body) with { ContentType = "application/json" }, ct);
    }

    private async Task<CloudInferenceResponse> InferAsync(CloudInferenceRequest request, CancellationToken ct)
    {
        // The newest registration answers; each name@version is loaded once and kept (a registry query per
        // request is cheap next to inference, and lets a newly registered version take over without a restart).
        var newest = CloudModelFor(request.Model, await _store.ListModelsAsync(ct));
        if (newest is null) return Error($"model {request.Model} unknown: register '{FamilyOf(request.Model)}{CloudSuffix}' (or '{FamilyOf(request.Model)}') in the hub");
        string key = $"{newest.Name}@{newest.Version}";
        LoadedModel model;
        try
        {
            model = await _models.GetOrAdd(key, _ => new Lazy<Task<LoadedModel>>(() => LoadAsync(newest, ct))).Value;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not cached: a transient store or file error gets another chance with the next request.
            _models.TryRemove(key, out _);
            _logger.LogError(e, "Cloud model {Model} could not be loaded", key);
            return Error($"model {key} could not be loaded: {e.Message}");
        }

        int classes;
        using (var lease = model.Engine.Rent()) classes = lease.Output<float>(0).Length;
        if (classes != request.Labels.Count)
            return Error($"model {model.Name}@{model.Version} has {classes} outputs but the device sent {request.Labels.Count} labels");
        var scores = new float[classes];
        try
        {
            model.Engine.Run<float, float>(request.Input, request.Shape, scores);
        }
        catch (ModelContractException e)
        {
            return Error(e.Message);
        }

        var probabilities = AsProbabilities(scores);
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[best]) best = i;
        return new CloudInferenceResponse { Label = request.Labels[best], Confidence = Math.Clamp(probabilities[best], 0f, 1f), Model = $"{model.Name}@{model.Version}" };
    }

    /// <summary>Outputs that already form a distribution are used as they are; logits go through softmax.</summary>
    private static float[] AsProbabilities(float[] scores)
    {
        double sum = 0;
        bool inRange = true;
        foreach (var s in scores) { sum += s; inRange &= s is >= 0f and <= 1f; }
        if (inRange && Math.Abs(sum - 1) < 1e-3) return scores;
        float max = scores.Max();
        var e = scores.Select(s => MathF.Exp(s - max)).ToArray();
        float total = e.Sum();
        return e.Select(v => v / total).ToArray();
    }

    /// <summary>Name suffix of a family's cloud model: <c>activity-cloud</c> answers for devices running <c>activity</c>.</summary>
    public const string CloudSuffix = "-cloud";

    /// <summary>
    /// The model that answers a device running <paramref name="requested"/> (<c>FAMILY@VERSION</c>, as the
    /// agent sends it, or a bare name): the newest registration of <c>FAMILY-cloud</c> (typically a larger
    /// float model), else the newest registration of the family itself. Null when neither is registered.
    /// </summary>
    public static ModelRecord? CloudModelFor(string requested, IReadOnlyList<ModelRecord> registered)
    {
        string family = FamilyOf(requested);
        return registered.Where(m => m.Name == family + CloudSuffix).MaxBy(m => m.RegisteredAt)
               ?? registered.Where(m => m.Name == family).MaxBy(m => m.RegisteredAt);
    }

    private static string FamilyOf(string model) => model.IndexOf('@') is var at and > 0 ? model[..at] : model;

    private async Task<LoadedModel> LoadAsync(ModelRecord newest, CancellationToken ct)
    {
        string name = newest.Name;
        byte[] onnx = await _store.GetModelOnnxAsync(newest.Name, newest.Version, ct) ?? throw new HubStoreException($"model {name}@{newest.Version} has no ONNX bytes");
        string path = Path.Combine(_modelDirectory, $"{Sanitize(newest.Name)}@{Sanitize(newest.Version)}-{newest.Sha256[..16]}.onnx");
        // Temp file + rename: hub instances sharing the cache directory never load a half-written file.
        string temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temp, onnx, ct);
        File.Move(temp, path, overwrite: true);
        var engine = InferenceEngine.Load(path, options: new InferenceEngineOptions { DynamicDimensionValue = 1 });
        _logger.LogInformation("Cloud model {Model}@{Version} loaded", newest.Name, newest.Version);
        return new LoadedModel(newest.Name, newest.Version, engine);
    }

    private static string Sanitize(string s) => string.Concat(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_'));

    private static string DeviceOf(string topic)
    {
        // edgeagent/v1/{deviceId}/infer/req
        var parts = topic.Split('/');
        return parts.Length == 5 ? parts[2] : "";
    }

    private static CloudInferenceResponse Error(string message) => new() { Error = message };

    /// <summary>Disposes the loaded engines (the MQTT client is the caller's).</summary>
    public async ValueTask DisposeAsync()
    {
        _client.MessageHandler = null;
        foreach (var lazy in _models.Values)
        {
            if (!lazy.IsValueCreated) continue;
            try
            {
                (await lazy.Value).Engine.Dispose();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogDebug(e, "engine that failed to load");
            }
        }
    }
}
