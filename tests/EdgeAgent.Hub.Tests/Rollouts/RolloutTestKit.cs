using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Updates.Events;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hub.Tests.Rollouts;

/// <summary>A clock the test moves by hand (the only fake the house rules allow besides faults).</summary>
public sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// Records what rollouts assign, for pure state-machine tests (the end-to-end test uses the hub's real
/// release signer). <see cref="FailNext"/> injects a signing/storage failure.
/// </summary>
public sealed class AssignmentRecorder : IDeviceAssignmentPublisher
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DeviceAssignment> _current = new(StringComparer.Ordinal);
    private readonly List<IReadOnlyList<DeviceAssignment>> _batches = [];

    public bool FailNext { get; set; }

    public IReadOnlyList<IReadOnlyList<DeviceAssignment>> Batches
    {
        get { lock (_gate) return [.. _batches]; }
    }

    /// <summary>How many times each device was published, over all batches.</summary>
    public IReadOnlyDictionary<string, int> PublishCounts
    {
        get { lock (_gate) return _batches.SelectMany(b => b).GroupBy(a => a.DeviceId).ToDictionary(g => g.Key, g => g.Count()); }
    }

    public string? Target(string deviceId, string family)
    {
        lock (_gate) return _current.TryGetValue(deviceId, out var a) && a.Models.TryGetValue(family, out var t) ? t : null;
    }

    public void Seed(string deviceId, string family, string target)
    {
        lock (_gate) _current[deviceId] = new DeviceAssignment { DeviceId = deviceId, Models = new() { [family] = target } };
    }

    public Task PublishAsync(IReadOnlyList<DeviceAssignment> assignments, CancellationToken ct)
    {
        lock (_gate)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new IOException("injected fault: signing key storage unavailable");
            }
            foreach (var a in assignments) _current[a.DeviceId] = a;
            _batches.Add(assignments);
        }
        return Task.CompletedTask;
    }

    public Task<DeviceAssignment?> GetAsync(string deviceId, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_current.TryGetValue(deviceId, out var a) ? a : null);
    }
}

/// <summary>
/// A simulated fleet that reports the way the agent does: update transitions (the agent's own
/// <see cref="UpdateEvent"/> JSON), predictions (<see cref="PipelineResult"/>) and drift windows
/// (<see cref="DriftWindowSnapshot"/>) in real telemetry batches, through the hub's real ingestor.
/// </summary>
public sealed class FleetReports(IHubStore store, TimeProvider time, RolloutSignal? signal = null)
{
    private readonly TelemetryIngestor _ingestor = new(store, time, NullLogger<TelemetryIngestor>.Instance, signal);
    private readonly Dictionary<string, long> _seq = new(StringComparer.Ordinal);

    public TelemetryIngestor Ingestor => _ingestor;

    public static string Boot(string deviceId) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(deviceId)))[..32];

    private long NextSeq(string deviceId, int count)
    {
        var first = _seq.GetValueOrDefault(deviceId) + 1;
        _seq[deviceId] = first + count - 1;
        return first;
    }

    /// <summary>Builds a batch of JSON events of one stream (ascending seqs) without ingesting it.</summary>
    public byte[] Batch(string deviceId, TelemetryStream stream, IReadOnlyList<byte[]> payloads, string? key = null)
    {
        long first = NextSeq(deviceId, payloads.Count);
        var now = time.GetUtcNow();
        var events = payloads.Select((p, i) => new WireEvent(first + i, now, 0, TelemetryEventKind.Data, p, true, key)).ToList();
        return new TelemetryBatchEncoder().Encode(deviceId, stream, Boot(deviceId), events, now).Payload;
    }

    public Task<IngestResult> IngestAsync(string deviceId, TelemetryStream stream, byte[] batch) =>
        _ingestor.IngestAsync(TelemetryStreams.Topic(deviceId, stream), batch, CancellationToken.None);

    /// <summary>The agent's update state machine from downloading to <paramref name="outcome"/> (committed, refused or rolled-back).</summary>
    public async Task UpdateAsync(string deviceId, string family, string version, long counter, string outcome, string? reason = null, string? code = null)
    {
        var at = time.GetUtcNow();
        string[] path = outcome switch
        {
            "committed" => ["idle", "downloading", "verifying", "validating", "activating", "observing", "committed"],
            "rolled-back" => ["idle", "downloading", "verifying", "validating", "activating", "observing", "rolled-back"],
            "refused" => ["idle", "downloading", "verifying", "validating", "refused"],
            _ => ["idle", outcome],
        };
        var payloads = new List<byte[]>();
        for (int i = 1; i < path.Length; i++)
        {
            bool last = i == path.Length - 1;
            payloads.Add(new UpdateEvent(family, version, counter, path[i - 1], path[i], last ? reason : null,
                last && outcome == "committed" ? new Dictionary<string, double> { ["windows"] = 500 } : null, at, last ? code : null).ToJson());
        }
        var r = await IngestAsync(deviceId, TelemetryStream.Update, Batch(deviceId, TelemetryStream.Update, payloads));
        if (r.Rejected is not null) throw new InvalidOperationException(r.Rejected);
    }

    /// <summary><paramref name="count"/> predictions of <c>FAMILY@VERSION</c>, every <paramref name="fallbackEvery"/>-th decided by fallback (0: none).</summary>
    public async Task PredictionsAsync(string deviceId, string model, int count, float confidence, int fallbackEvery = 0)
    {
        var payloads = Enumerable.Range(1, count).Select(i => JsonSerializer.SerializeToUtf8Bytes(new PipelineResult
        {
            Model = model, Window = i, WindowEnd = time.GetUtcNow(), Label = "normal", LocalLabel = "normal",
            Confidence = confidence, LocalConfidence = confidence,
            DecidedBy = fallbackEvery > 0 && i % fallbackEvery == 0 ? DecidedBy.Fallback : DecidedBy.Local,
            FallbackReason = fallbackEvery > 0 && i % fallbackEvery == 0 ? FallbackReason.Offline : FallbackReason.None,
            InferenceUs = 150, LatencyUs = 400,
        }, PipelineJsonContext.Default.PipelineResult)).ToList();
        var r = await IngestAsync(deviceId, TelemetryStream.Telemetry, Batch(deviceId, TelemetryStream.Telemetry, payloads));
        if (r.Rejected is not null) throw new InvalidOperationException(r.Rejected);
    }

    /// <summary>One JSON drift window (the agent pipeline's encoding) of <paramref name="samples"/> values around <paramref name="mean"/>.</summary>
    public async Task<IngestResult> DriftAsync(string deviceId, string model, string feature, double mean, int samples, int seed)
    {
        var rng = new Random(seed);
        var acc = new FeatureAccumulator(random: new Random(seed));
        for (int i = 0; i < samples; i++) acc.Add(Gaussian(rng, mean));
        var stats = acc.Statistics;
        var snapshot = new DriftWindowSnapshot
        {
            Model = model, Feature = feature, WindowStart = time.GetUtcNow().AddMinutes(-15), WindowEnd = time.GetUtcNow(),
            Count = stats.Count, Mean = stats.Mean, M2 = stats.M2, StdDev = acc.Moments.PopulationStandardDeviation,
            K = acc.Sketch.K, Kll = Convert.ToBase64String(acc.Sketch.ToByteArray()),
        };
        var payload = JsonSerializer.SerializeToUtf8Bytes(snapshot, PipelineJsonContext.Default.DriftWindowSnapshot);
        return await IngestAsync(deviceId, TelemetryStream.Drift, Batch(deviceId, TelemetryStream.Drift, [payload], $"{model}/{feature}"));
    }

    public static float Gaussian(Random rng, double mean) =>
        (float)(mean + Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    /// <summary>A reference profile of one feature ~ N(0, 1).</summary>
    public static ReferenceProfile Reference(string feature, int seed = 3)
    {
        var rng = new Random(seed);
        var acc = new FeatureAccumulator(random: new Random(seed));
        for (int i = 0; i < 20_000; i++) acc.Add(Gaussian(rng, 0));
        return new ReferenceProfile([FeatureProfile.FromAccumulator(feature, acc)]);
    }
}

/// <summary>Sets up releases and devices in a store for rollout tests.</summary>
public static class RolloutSetup
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    /// <summary>Registers FAMILY@VERSION with a release counter (and optionally a reference profile) straight in the store.</summary>
    public static Task RegisterReleaseAsync(IHubStore store, string family, string version, long counter, ReferenceProfile? reference = null)
    {
        var manifest = Encoding.UTF8.GetBytes($$"""{"formatVersion":1,"name":"{{family}}","version":"{{version}}","releaseCounter":{{counter}}}""");
        byte[] onnx = [0x08, 0x07];
        return store.RegisterModelAsync(new ModelRecord(family, version, onnx.Length, Convert.ToHexStringLower(SHA256.HashData(onnx)), "test contract",
            manifest, reference is null ? null : ReferenceProfileJson.Serialize(reference), "test", T0), onnx, null);
    }

    public static async Task<IReadOnlyList<string>> DevicesAsync(IHubStore store, string prefix, int count, IReadOnlyDictionary<string, string> labels)
    {
        var ids = Enumerable.Range(1, count).Select(i => $"{prefix}-{i:D2}").ToList();
        foreach (var id in ids) await store.CreateDeviceAsync(id, labels, T0);
        return ids;
    }

    public static HubOptions Options(string store = "sqlite:unused.db") => new() { Store = store };

    public static RolloutEngine Engine(IHubStore store, TimeProvider time, IDeviceAssignmentPublisher? publisher, RolloutSignal? signal = null) =>
        new(store, time, signal ?? new RolloutSignal(), Options(), NullLogger<RolloutEngine>.Instance, publisher);
}
