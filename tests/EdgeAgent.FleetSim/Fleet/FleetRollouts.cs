using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeAgent.Demo;
using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Measurement;

namespace EdgeAgent.FleetSim.Fleet;

/// <summary>Seconds from the rollout's start until devices reached a phase: how many did, median, 90th percentile, slowest.</summary>
public sealed record PhaseTiming(int Devices, double P50Seconds, double P90Seconds, double MaxSeconds)
{
    public static PhaseTiming Of(IReadOnlyList<double> seconds)
    {
        if (seconds.Count == 0) return new PhaseTiming(0, 0, 0, 0);
        var s = seconds.Order().ToArray();
        return new PhaseTiming(s.Length, Math.Round(IngestSummary.Percentile(s, 0.5), 2), Math.Round(IngestSummary.Percentile(s, 0.9), 2), Math.Round(s[^1], 2));
    }
}

/// <summary>
/// One rollout as the fleet lived it. <see cref="HubSeconds"/>: from <c>POST /api/v1/rollouts</c> until the hub reported
/// the rollout <c>completed</c> (every device of the cohort committed). The phases come from the devices' own update
/// transitions (same machine, same clock): <see cref="Downloading"/> = the device saw its assignment and started the
/// download, <see cref="Observing"/> = downloaded, verified, validated and activated (the health window runs),
/// <see cref="Committed"/> = the health window passed.
/// </summary>
public sealed record RolloutResult
{
    public required string Version { get; init; }
    /// <summary>Bytes of the signed bundle every device downloads (the TUF target's length).</summary>
    public long BundleBytes { get; init; }
    public required string State { get; init; }
    public string? Reason { get; init; }
    public int TargetDevices { get; init; }
    public int CommittedDevicesAtHub { get; init; }
    public double HubSeconds { get; init; }
    public required PhaseTiming Downloading { get; init; }
    public required PhaseTiming Observing { get; init; }
    public required PhaseTiming Committed { get; init; }
    public int RolledBack { get; init; }
    public int Refused { get; init; }
    public string? FirstDeviceProblem { get; init; }

    /// <summary>
    /// Adds the devices' view of release <see cref="Version"/>: its transitions from <paramref name="startedAtMs"/> until
    /// <paramref name="untilMs"/> (the next rollout's start; what a later rollout does to this release is not this one's).
    /// </summary>
    public RolloutResult WithDevices(IReadOnlyList<DeviceReport> devices, long startedAtMs, long untilMs = long.MaxValue)
    {
        bool Mine(UpdateTransition t) => t.Version == Version && t.AtMs >= startedAtMs && t.AtMs < untilMs;
        List<double> Phase(string to) => devices
            .Select(d => (d.Updates ?? []).FirstOrDefault(t => Mine(t) && t.To == to))
            .Where(t => t is not null).Select(t => (t!.AtMs - startedAtMs) / 1000.0).ToList();
        var bad = devices.SelectMany(d => (d.Updates ?? []).Where(t => Mine(t) && t.To is "rolled-back" or "refused")
            .Select(t => (d.Id, t))).ToList();
        return this with
        {
            Downloading = PhaseTiming.Of(Phase("downloading")),
            Observing = PhaseTiming.Of(Phase("observing")),
            Committed = PhaseTiming.Of(Phase("committed")),
            RolledBack = bad.Count(b => b.t.To == "rolled-back"),
            Refused = bad.Count(b => b.t.To == "refused"),
            FirstDeviceProblem = bad.Select(b => $"{b.Id} {b.t.To} {b.t.Version}: {b.t.Reason}").FirstOrDefault(),
        };
    }
}

/// <summary>
/// Drives releases through the hub's admin API, as an operator would: registers the devices with a cohort label,
/// registers and publishes (signs) releases, starts a one-step rollout to 100 % of the cohort and follows it to its end.
/// </summary>
/// <remarks>Not thread-safe; one per run. Every refusal of the hub surfaces as <see cref="HubApiException"/> with its reason.</remarks>
internal sealed class FleetRollouts(HubApi hub, TextWriter progress)
{
    public const string CohortLabel = "fleet";
    public const string CohortValue = "sim";

    public async Task RegisterDevicesAsync(IEnumerable<string> deviceIds, CancellationToken ct)
    {
        await Parallel.ForEachAsync(deviceIds, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (id, token) =>
            await hub.PostAsync("api/v1/devices", new JsonObject { ["id"] = id, ["labels"] = new JsonObject { [CohortLabel] = CohortValue } }, token)
                .ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Registers the model (the hub checks it and builds the bundle) and publishes it as a signed target; returns the bundle's length.</summary>
    public async Task<long> PublishAsync(FleetRelease release, CancellationToken ct)
    {
        await hub.RegisterModelAsync(release.Onnx, release.ManifestJson, null, ct).ConfigureAwait(false);
        var published = await hub.PostAsync("api/v1/releases", new JsonObject { ["model"] = FleetReleases.Family, ["version"] = release.Version }, ct).ConfigureAwait(false);
        long length = (long?)published?["length"] ?? 0;
        progress.WriteLine($"release {FleetReleases.Family} {release.Version}: model {release.Onnx.Length:N0} bytes, signed bundle {length:N0} bytes");
        return length;
    }

    /// <summary>
    /// Starts a rollout of <paramref name="version"/> to every device of the cohort in one step (no bake time; refusal and
    /// rollback ratios stay armed at the hub's defaults, the drift/confidence/fallback limits are off: the generated models are not trained on
    /// what the devices see) and waits until it ends or <paramref name="timeout"/> passes.
    /// </summary>
    /// <returns>The hub's view; <see cref="RolloutResult.WithDevices"/> adds the devices' view later.</returns>
    /// <param name="minDevices">The step's quorum: devices that must have committed before it may pass, and before outcome
    /// ratios are judged (an operator rolling out to 1,000 devices does not let the first report decide).</param>
    public async Task<(RolloutResult Result, long StartedAtMs)> RunAsync(string version, long bundleBytes, int minDevices, TimeSpan timeout, CancellationToken ct)
    {
        long startedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        var created = await hub.PostAsync("api/v1/rollouts", new JsonObject
        {
            ["family"] = FleetReleases.Family,
            ["version"] = version,
            ["cohort"] = new JsonObject { [CohortLabel] = CohortValue },
            ["steps"] = new JsonArray(new JsonObject { ["percent"] = 100, ["bakeSeconds"] = 0, ["minDevices"] = minDevices }),
            ["thresholds"] = new JsonObject { ["maxDriftPsi"] = null, ["minMeanConfidence"] = null, ["maxFallbackRate"] = null },
        }, ct).ConfigureAwait(false);
        string id = (string?)created?["id"] ?? throw new HubApiException("the hub created a rollout without an id");
        string state = "running", states = "";
        JsonNode? view = null;
        var lastReport = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            await Task.Delay(1000, ct).ConfigureAwait(false);
            view = await hub.GetAsync($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
            state = (string?)view?["state"] ?? "?";
            states = view?["deviceStates"]?.ToJsonString() ?? "";
            if (state is not ("running" or "paused")) break;
            if (lastReport.Elapsed > TimeSpan.FromSeconds(10))
            {
                progress.WriteLine($"  rollout {version} after {clock.Elapsed.TotalSeconds:F0} s: {state} {states}");
                lastReport.Restart();
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        progress.WriteLine($"rollout {id} ({version}, {bundleBytes:N0} bytes): {state} after {seconds:F1} s {states}");
        var step = view?["steps"]?[0];
        var empty = PhaseTiming.Of([]);
        return (new RolloutResult
        {
            Version = version,
            BundleBytes = bundleBytes,
            State = state,
            Reason = (string?)view?["reason"],
            TargetDevices = (int?)step?["targetDevices"] ?? 0,
            CommittedDevicesAtHub = (int?)step?["committedDevices"] ?? 0,
            HubSeconds = Math.Round(seconds, 1),
            Downloading = empty,
            Observing = empty,
            Committed = empty,
        }, startedAtMs);
    }
}
