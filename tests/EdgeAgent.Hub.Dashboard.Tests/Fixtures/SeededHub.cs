using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Devices;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Hub.Dashboard.Tests.Fixtures;

/// <summary>
/// A running hub (real Kestrel, SQLite in a temp dir) holding a small live fleet, fed through the same
/// paths production uses: devices created over the API, status payloads through the MQTT consumer's parser
/// and store call, telemetry and drift as encoded wire batches through <c>TelemetryIngestor</c>, a model
/// registered over the API with training data for its drift reference. Used read-only by the tests, except
/// where a test adds its own device or rollout (named so it never collides with the seed).
/// </summary>
public sealed class SeededHub : IAsyncDisposable
{
    public const string Model = "vib-mlp";
    public const string Version = "1.0.0";
    public const string ModelKey = Model + "@" + Version;

    /// <summary>Seeded devices: (id, online, agent version, health); null online = never reported.</summary>
    public static readonly (string Id, bool? Online, string Agent, string Health)[] Devices =
    [
        ("press-01", true, "1.0.0", "ok"),
        ("press-02", true, "1.0.0", "ok"),
        ("press-03", true, "0.9.2", "degraded"),
        ("press-04", false, "0.9.2", "ok"),
        ("press-05", null, "", ""),
        ("press-06", true, "1.0.0", "ok"),
    ];

    /// <summary>Revoked at seed time.</summary>
    public const string RevokedDevice = "press-06";

    /// <summary>Per online device and hour, for the last <see cref="Hours"/> hours.</summary>
    public const int PredictionsPerHour = 60;
    public const int Hours = 6;
    public const int DriftDays = 5;

    private readonly RunningHub _hub;

    private SeededHub(RunningHub hub) => _hub = hub;

    public RunningHub Hub => _hub;

    public Uri BaseAddress => _hub.BaseAddress;

    /// <summary>Prediction events stored, by device.</summary>
    public Dictionary<string, int> Predictions { get; } = [];

    /// <summary>Fallback predictions stored (fleet).</summary>
    public int Fallbacks { get; private set; }

    /// <summary>Redelivered events dropped by dedup.</summary>
    public int Duplicates { get; private set; }

    public DateTimeOffset SeededAt { get; private set; }

    public static async Task<SeededHub> StartAsync(string? store = null)
    {
        var hub = await RunningHub.StartAsync(store: store);
        var seeded = new SeededHub(hub);
        try
        {
            await seeded.SeedAsync();
        }
        catch
        {
            await hub.DisposeAsync();
            throw;
        }
        return seeded;
    }

    private async Task SeedAsync()
    {
        var now = DateTimeOffset.UtcNow;
        SeededAt = now;
        using var op = _hub.Client(_hub.OperatorToken);
        foreach (var (id, online, agent, health) in Devices)
        {
            var created = await CreateDeviceAsync(op, id, string.CompareOrdinal(id, "press-04") < 0 ? "north" : "south");
            if (created.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"device {id}: {await created.Content.ReadAsStringAsync()}");
            if (online is { } on) await ReportStatusAsync(id, on, agent, ModelKey, health, now.AddMinutes(-1));
        }
        await _hub.Store.SetDeviceRevokedAsync(RevokedDevice, now.AddMinutes(-30));
        await RegisterModelAsync(op);

        var rng = new Random(42);
        foreach (var (id, online, _, _) in Devices.Where(d => d.Online == true && d.Id != RevokedDevice))
            await SendPredictionsAsync(id, now, rng, degraded: id == "press-03");
        foreach (var (id, online, _, _) in Devices.Where(d => d.Online is not null))
            await SendDriftAsync(id, now, rng);
        // A device that lost events to its disk budget: a tombstone becomes a gap.
        await IngestAsync("press-04", TelemetryStream.Telemetry, new string('4', 32),
        [
            new WireEvent(100, now.AddHours(-2), 255, TelemetryEventKind.Tombstone, JsonSerializer.SerializeToUtf8Bytes(
                new TombstonePayload("telemetry", new string('4', 32), 1, 99, 99, "disk budget exceeded; oldest events dropped"), TelemetryJsonContext.Default.TombstonePayload), true),
        ]);
        // A message that breaks the contract is parked, not lost.
        var rejected = await _hub.Ingestor.IngestAsync("edgeagent/v1/press-01/telemetry", "{not json"u8.ToArray(), default);
        if (rejected.Rejected is null) throw new InvalidOperationException("malformed batch was not rejected");
    }

    /// <summary>Registers a device over the API with labels site=SITE, line=a.</summary>
    public static Task<HttpResponseMessage> CreateDeviceAsync(HttpClient operatorClient, string id, string site) =>
        operatorClient.PostAsync("api/v1/devices", new StringContent(new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = id,
            ["labels"] = new System.Text.Json.Nodes.JsonObject { ["site"] = site, ["line"] = "a" },
        }.ToJsonString(), Encoding.UTF8, "application/json"));

    /// <summary>What the MQTT consumer does with a retained status message: parse, then store.</summary>
    public async Task ReportStatusAsync(string id, bool online, string agent, string activeModel, string health, DateTimeOffset at)
    {
        var json = $$"""{"online":{{(online ? "true" : "false")}},"agentVersion":"{{agent}}","activeModel":"{{activeModel}}","health":"{{health}}","updateState":"idle"}""";
        await _hub.Store.RecordDeviceStatusAsync(id, DeviceStatusParser.Parse(Encoding.UTF8.GetBytes(json), at));
    }

    private async Task RegisterModelAsync(HttpClient op)
    {
        var model = QdqMlp.Generate();
        var samples = model.ReferenceSamples(3);
        var manifest = new BundleManifest
        {
            Name = Model,
            Version = Version,
            ReleaseCounter = 1,
            HardwareIds = ["linux-x64"],
            Inputs = [new TensorDescriptor { Name = model.InputName, ElementType = "float32", Shape = [.. model.InputShape] }],
            Outputs = [new TensorDescriptor { Name = model.OutputName, ElementType = "float32", Shape = [.. model.OutputShape] }],
            Labels = [.. model.Labels],
            Windowing = new WindowingSpec { Length = 64, Stride = 32, Channels = 1, SampleRateHz = 100 },
            ConfidenceThreshold = 0.6,
            LatencyBudgetMs = 5,
            GoldenVectors = new GoldenVectorSet
            {
                Tolerance = model.ProbabilityTolerance,
                Vectors = [.. samples.Select(g => new GoldenVector { Input = (float[])g.Input.Data, Expected = (float[])g.ExpectedOutput.Data })],
            },
        };
        // Training data for the drift reference: both features ~ N(0, 1).
        var rng = new Random(7);
        var csv = new StringBuilder("x0,x1\n");
        for (int i = 0; i < 5000; i++) csv.Append(CultureInfo.InvariantCulture, $"{Gaussian(rng, 0):R},{Gaussian(rng, 0):R}\n");
        using var form = new MultipartFormDataContent();
        var onnx = new ByteArrayContent(model.OnnxBytes);
        onnx.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(onnx, "model", "model.onnx");
        form.Add(new StringContent(Encoding.UTF8.GetString(BundleManifestJson.Serialize(manifest)), Encoding.UTF8, "application/json"), "manifest", "manifest.json");
        form.Add(new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"), "reference", "training.csv");
        var r = await op.PostAsync("api/v1/models", form);
        if (r.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"model registration: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    private async Task SendPredictionsAsync(string id, DateTimeOffset now, Random rng, bool degraded)
    {
        var boot = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var events = new List<WireEvent>();
        int n = Hours * PredictionsPerHour;
        for (int i = 0; i < n; i++)
        {
            var ts = now.AddHours(-Hours).AddSeconds((i + 0.5) * Hours * 3600.0 / n);
            // press-03 loses its cloud link in the last two hours: its fallback rate climbs.
            bool hard = rng.NextDouble() < 0.15;
            bool linkDown = degraded && ts > now.AddHours(-2);
            var decided = !hard ? DecidedBy.Local : linkDown ? DecidedBy.Fallback : DecidedBy.Cloud;
            if (decided == DecidedBy.Fallback) Fallbacks++;
            var result = new PipelineResult
            {
                Model = ModelKey, Generation = 1, Window = i + 1, WindowEnd = ts, Label = "normal", LocalLabel = "normal",
                Confidence = hard ? 0.45f : 0.93f, LocalConfidence = hard ? 0.45f : 0.93f, DecidedBy = decided,
                Escalation = hard ? EscalationReason.LowConfidence : EscalationReason.None,
                FallbackReason = decided == DecidedBy.Fallback ? FallbackReason.Offline : FallbackReason.None,
                InferenceUs = 150 + rng.Next(0, 60) + (degraded ? 120 : 0), LatencyUs = 400 + rng.Next(0, 300) + (decided == DecidedBy.Cloud ? 25_000 : 0),
            };
            events.Add(new WireEvent(i + 1, ts, 0, TelemetryEventKind.Data, JsonSerializer.SerializeToUtf8Bytes(result, PipelineJsonContext.Default.PipelineResult), true));
        }
        foreach (var chunk in events.Chunk(200)) await IngestAsync(id, TelemetryStream.Telemetry, boot, chunk);
        // The broker redelivers the last batch (PUBACK lost): dedup drops it.
        var last = events.Chunk(200).Last();
        var again = await IngestAsync(id, TelemetryStream.Telemetry, boot, last);
        Duplicates += again.Duplicates;
        Predictions[id] = n;
    }

    /// <summary>One drift window per feature and day; x1 moves away from the reference day by day (PSI rises), x0 stays.</summary>
    private async Task SendDriftAsync(string id, DateTimeOffset now, Random rng)
    {
        var boot = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var events = new List<WireEvent>();
        long seq = 1;
        for (int d = DriftDays - 1; d >= 0; d--)
        {
            var ts = now.AddDays(-d);
            double shift = (DriftDays - 1 - d) * 0.3;
            var x0 = new KllFloatsSketch();
            var x1 = new KllFloatsSketch();
            for (int i = 0; i < 2000; i++) { x0.Update(Gaussian(rng, 0)); x1.Update(Gaussian(rng, shift)); }
            events.Add(new WireEvent(seq++, ts, 0, TelemetryEventKind.Data, x0.ToByteArray(), false, $"{ModelKey}/x0"));
            events.Add(new WireEvent(seq++, ts, 0, TelemetryEventKind.Data, x1.ToByteArray(), false, $"{ModelKey}/x1"));
        }
        await IngestAsync(id, TelemetryStream.Drift, boot, events);
    }

    /// <summary>Encodes a batch exactly as the agent's drainer does and hands it to the hub's ingestor.</summary>
    public async Task<EdgeAgent.Hub.Ingestion.IngestResult> IngestAsync(string id, TelemetryStream stream, string boot, IReadOnlyList<WireEvent> events)
    {
        var batch = new TelemetryBatchEncoder().Encode(id, stream, boot, events, DateTimeOffset.UtcNow);
        var leaf = stream switch { TelemetryStream.Drift => "drift", TelemetryStream.Update => "update", _ => "telemetry" };
        var r = await _hub.Ingestor.IngestAsync($"edgeagent/v1/{id}/{leaf}", batch.Payload, default);
        if (r.Rejected is not null) throw new InvalidOperationException($"seed batch for {id} rejected: {r.Rejected}");
        return r;
    }

    public static float Gaussian(Random rng, double mean) =>
        (float)(mean + Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    public ValueTask DisposeAsync() => _hub.DisposeAsync();
}
