using System.Diagnostics;
using System.Text.Json;
using EdgeAgent.Hub.CloudInference;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.TestSupport.Mosquitto;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hub.CloudTier.Bench;

/// <summary>One measured configuration: who answered, how many of them, how many devices asked.</summary>
internal sealed record CloudTierRow(string Responder, int Instances, int Devices, long Requests, double Seconds, double P50Us, double P99Us, double MaxUs, long Errors, double BrokerCpuSeconds, double OwnCpuSeconds)
{
    public double RequestsPerSecond => Requests / Seconds;
}

/// <summary>
/// Cloud-tier request/response through a real Mosquitto: N device clients (each an <see cref="MqttRequestClient"/>
/// asking one request at a time, as the agent's cloud tier does) against either the hub's
/// <see cref="CloudInferenceResponder"/> (registered QDQ MLP through our ONNX Runtime binding, SQLite store) or a
/// trivial echo responder that answers with a fixed, valid response from the same shared subscription
/// pattern (the broker + client round trip without inference and storage). Responders run in this process,
/// each on its own MQTT client, all in one shared-subscription group (1 or 2 instances).
/// </summary>
internal sealed class CloudTierBench(MosquittoBroker broker, string workDirectory, TimeSpan warmUp, TimeSpan measure)
{
    private static readonly GeneratedModel Model = QdqMlp.Generate();
    private const string ModelName = "vib-mlp";
    private readonly string _database = Path.Combine(workDirectory, "cloud-hub.db");
    private readonly string _modelCache = Path.Combine(workDirectory, "models");

    /// <summary>Creates the hub database and registers the cloud model once.</summary>
    public async Task PrepareAsync()
    {
        await using var store = new SqliteHubStore(_database);
        await store.MigrateAsync();
        await store.RegisterModelAsync(new ModelRecord(ModelName, "1.0.0", Model.OnnxBytes.Length,
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Model.OnnxBytes)),
            "[1,64] float32 -> [1,4] float32", "{}"u8.ToArray(), null, "bench", DateTimeOffset.UtcNow), Model.OnnxBytes, null);
    }

    /// <summary>
    /// The responder's per-request steps timed one by one in this process (same store, same model, same
    /// request), to show where a hub request's service time goes: median µs per call over <paramref name="calls"/>.
    /// </summary>
    public async Task<IReadOnlyList<(string Step, double MedianUs, double P99Us)>> ServiceTimeAsync(int calls)
    {
        await using var store = new SqliteHubStore(_database);
        float[] input = Model.ReferenceSamples(1, firstSeed: 7)[0].Input.GetData<float>();
        byte[] body = RequestBody("bench-service", input);
        string path = Path.Combine(_modelCache, "service-time.onnx");
        Directory.CreateDirectory(_modelCache);
        await File.WriteAllBytesAsync(path, Model.OnnxBytes);
        using var engine = EdgeAgent.Onnx.InferenceEngine.Load(path, options: new EdgeAgent.Onnx.InferenceEngineOptions { DynamicDimensionValue = 1 });
        var scores = new float[Model.Labels.Count];
        CloudInferenceRequest request = JsonSerializer.Deserialize(body, PipelineJsonContext.Default.CloudInferenceRequest)!;
        var steps = new List<(string, double, double)>();

        async Task Measure(string step, Func<Task> call)
        {
            await call();
            var us = new double[calls];
            for (int i = 0; i < calls; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await call();
                us[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }

            Array.Sort(us);
            steps.Add((step, Stats.Percentile(us, 0.5), Stats.Percentile(us, 0.99)));
        }

        await Measure("registry lookup (ListModelsAsync, every request)", () => store.ListModelsAsync());
        await Measure("hard-case insert (RecordHardCaseAsync, one SQLite transaction)", () => store.RecordHardCaseAsync(new HardCaseRecord(0, DateTimeOffset.UtcNow, "bench-service", ModelName, 4711,
            DateTimeOffset.UtcNow, "low-confidence", Model.Labels[0], 0.41, Model.Labels[1], 0.9, ModelName + "@1.0.0", null, System.Text.Encoding.UTF8.GetString(body))));
        await Measure("inference (InferenceEngine.Run, QDQ MLP [1,64] -> [1,4])", () =>
        {
            engine.Run<float, float>(request.Input, request.Shape, scores);
            return Task.CompletedTask;
        });
        await Measure("request JSON parse + response JSON write", () =>
        {
            CloudInferenceRequest parsed = JsonSerializer.Deserialize(body, PipelineJsonContext.Default.CloudInferenceRequest)!;
            GC.KeepAlive(JsonSerializer.SerializeToUtf8Bytes(new CloudInferenceResponse { Label = parsed.Labels[1], Confidence = 0.9f, Model = ModelName }, PipelineJsonContext.Default.CloudInferenceResponse));
            return Task.CompletedTask;
        });
        return steps;
    }

    private MqttClientOptions Options(string clientId) => new()
    {
        Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port),
        ClientId = clientId,
        KeepAlive = TimeSpan.FromSeconds(60),
    };

    private static byte[] RequestBody(string deviceId, float[] input) => JsonSerializer.SerializeToUtf8Bytes(new CloudInferenceRequest
    {
        DeviceId = deviceId, Model = ModelName, Generation = 1, Window = 4711, WindowEnd = DateTimeOffset.UtcNow,
        Reason = "low-confidence", Shape = Model.InputShape, Layout = "channels-first", Channels = ["x"], Labels = Model.Labels,
        Input = input, LocalLabel = Model.Labels[0], LocalConfidence = 0.41f,
        LocalProbabilities = [.. Enumerable.Repeat(1f / Model.Labels.Count, Model.Labels.Count)], DeadlineMs = 5000,
    }, PipelineJsonContext.Default.CloudInferenceRequest);

    public async Task<CloudTierRow> RunAsync(string responder, int instances, int devices)
    {
        var responderClients = new List<MqttClient>();
        var hubs = new List<(CloudInferenceResponder Responder, SqliteHubStore Store)>();
        string group = responder + "-" + Guid.NewGuid().ToString("N")[..6];
        byte[] echoBody = JsonSerializer.SerializeToUtf8Bytes(new CloudInferenceResponse { Label = Model.Labels[1], Confidence = 0.93f, Model = ModelName + "@1.0.0" }, PipelineJsonContext.Default.CloudInferenceResponse);
        var deviceClients = new List<(MqttClient Client, MqttRequestClient Requests)>();
        try
        {
            for (int i = 0; i < instances; i++)
            {
                var client = new MqttClient(Options($"{group}-{i}"));
                responderClients.Add(client);
                await client.ConnectAsync();
                if (responder == "hub")
                {
                    var store = new SqliteHubStore(_database);
                    var hub = new CloudInferenceResponder(client, store, TimeProvider.System, NullLogger.Instance, _modelCache);
                    hubs.Add((hub, store));
                    await hub.SubscribeAsync(group, CancellationToken.None);
                }
                else
                {
                    // Same shape of work on the MQTT side as the hub: answer on the Response Topic with
                    // the Correlation Data, QoS 1, awaiting the PUBACK inside the handler.
                    client.MessageHandler = (request, ct) => new ValueTask(client.PublishAsync(MqttApplicationMessage.ResponseTo(request, echoBody) with { ContentType = "application/json" }, ct));
                    await client.SubscribeAsync(CloudInferenceResponder.TopicFilter(group));
                }
            }

            float[] input = Model.ReferenceSamples(1, firstSeed: 7)[0].Input.GetData<float>();
            for (int d = 0; d < devices; d++)
            {
                string deviceId = $"bench-{group}-{d}";
                var client = new MqttClient(Options("dev-" + deviceId));
                await client.ConnectAsync();
                deviceClients.Add((client, await MqttRequestClient.CreateAsync(client, $"edgeagent/v1/{deviceId}/infer/res")));
            }

            // Closed loop: every device asks again as soon as it has its answer. Latencies are kept only
            // inside the measurement window (after the warm-up, which also loads the model).
            var latencies = new List<double>[devices];
            long errors = 0;
            long measureFrom = Stopwatch.GetTimestamp() + (long)(warmUp.TotalSeconds * Stopwatch.Frequency);
            long measureTo = measureFrom + (long)(measure.TotalSeconds * Stopwatch.Frequency);
            double brokerCpuStart = 0, ownCpuStart = 0;
            var startCpu = Task.Run(async () =>
            {
                await Task.Delay(warmUp);
                brokerCpuStart = ProcessCpu.Seconds(broker.ProcessId);
                ownCpuStart = ProcessCpu.Self();
            });
            var loops = new Task[devices];
            for (int d = 0; d < devices; d++)
            {
                int device = d;
                latencies[d] = new List<double>(4096);
                string deviceId = $"bench-{group}-{d}";
                var message = new MqttApplicationMessage { Topic = $"edgeagent/v1/{deviceId}/infer/req", Payload = RequestBody(deviceId, input), ContentType = "application/json" };
                loops[d] = Task.Run(async () =>
                {
                    while (true)
                    {
                        long start = Stopwatch.GetTimestamp();
                        if (start >= measureTo)
                        {
                            return;
                        }

                        MqttApplicationMessage reply = await deviceClients[device].Requests.RequestAsync(message, TimeSpan.FromSeconds(30));
                        long end = Stopwatch.GetTimestamp();
                        if (!IsAnswer(reply.Payload))
                        {
                            Interlocked.Increment(ref errors);
                        }

                        if (start >= measureFrom && end <= measureTo)
                        {
                            latencies[device].Add(Stopwatch.GetElapsedTime(start, end).TotalMicroseconds);
                        }
                    }
                });
            }

            await Task.WhenAll(loops);
            await startCpu;
            double brokerCpu = ProcessCpu.Seconds(broker.ProcessId) - brokerCpuStart;
            double ownCpu = ProcessCpu.Self() - ownCpuStart;
            double[] all = [.. latencies.SelectMany(l => l).Order()];
            return new CloudTierRow(responder, instances, devices, all.Length, measure.TotalSeconds,
                Stats.Percentile(all, 0.50), Stats.Percentile(all, 0.99), all.Length > 0 ? all[^1] : double.NaN, errors, brokerCpu, ownCpu);
        }
        finally
        {
            foreach (var (client, requests) in deviceClients)
            {
                await requests.DisposeAsync();
                await client.DisposeAsync();
            }

            foreach (var (hub, store) in hubs)
            {
                await hub.DisposeAsync();
                await store.DisposeAsync();
            }

            foreach (MqttClient client in responderClients)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>The device's own acceptance: the pipeline parser (schema, a label, a confidence) must take it.</summary>
    private static bool IsAnswer(ReadOnlyMemory<byte> payload)
    {
        try
        {
            EdgeAgent.Pipeline.Cloud.CloudTier.Parse(payload);
            return true;
        }
        catch (CloudTierResponseException)
        {
            return false;
        }
    }
}
