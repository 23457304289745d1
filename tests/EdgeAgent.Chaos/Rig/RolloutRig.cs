using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeAgent.Chaos.Checks;
using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Demo;
using EdgeAgent.FleetSim.Fleet;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Chaos.Rig;

/// <summary>One device of the <see cref="RolloutRig"/>: a real daemon and the witness of its outbox.</summary>
public sealed record RolloutDevice(AgentDaemon Agent, CommitWitness Witness)
{
    public string Id => Agent.DeviceId;
}

/// <summary>What the hub said about a rollout at one moment (<c>GET /api/v1/rollouts/{id}</c>).</summary>
/// <param name="State"><c>running</c>, <c>completed</c>, <c>halted</c>, <c>rolled-back</c>, … or <c>unreachable</c> while the hub does not answer.</param>
/// <param name="DeviceStates">Devices per update state as the hub counts them, e.g. <c>{"committed":2,"observing":1}</c>.</param>
/// <param name="Reason">Why it halted or was paused (the hub's words), or why the hub did not answer.</param>
public sealed record RolloutProgress(string State, string DeviceStates, string? Reason)
{
    public bool Finished => State is not ("running" or "paused" or "unreachable");
}

/// <summary>
/// Rollouts as deployed (issue 8, "broker killed during a rollout", "hub restarted mid-rollout"): Mosquitto with
/// persistence, <c>edgehub serve</c> on SQLite with release keys (<c>edgehub keys init</c>, <c>--trust-dir</c>), and
/// <see cref="Options.Devices"/> <c>edgeagent run</c> daemons with synthetic sensors, telemetry and the update loop
/// pointed at the hub's <c>/tuf/</c>. The devices start with no model; <see cref="InstallFirstReleaseAsync"/> rolls out
/// release 1.0.0 to all of them, then a scenario starts the rollout of the ~1 MB 2.0.0 (<see cref="FleetReleases"/>, compiled in from the fleet simulation) and injects its fault while it runs. <see cref="VerifyAsync"/> is the end of
/// every rollout scenario. One owner drives it; Dispose tears every process down.
/// </summary>
public sealed class RolloutRig : IAsyncDisposable
{
    public const string CohortLabel = "chaos";
    public const string CohortValue = "rollout";

    private readonly HubApi _api;

    private RolloutRig(ChaosRun run, MosquittoBroker broker, HubProcess hub, CorruptingMirror mirror, HubApi api, IReadOnlyList<RolloutDevice> devices, long v2BundleBytes)
    {
        Run = run;
        Broker = broker;
        Hub = hub;
        Mirror = mirror;
        _api = api;
        Devices = devices;
        V2BundleBytes = v2BundleBytes;
    }

    public ChaosRun Run { get; }
    public MosquittoBroker Broker { get; }
    public HubProcess Hub { get; }

    /// <summary>
    /// The mirror the devices download bundles through (their <c>targetBaseUrl</c>; metadata comes from the hub itself):
    /// relays the hub's <c>/tuf/</c> as it streams at <see cref="Options.DownloadBytesPerSecond"/>, so a download takes
    /// seconds and a fault can land in it; set <see cref="CorruptingMirror.Corruption"/> to damage what it serves.
    /// </summary>
    public CorruptingMirror Mirror { get; }

    public IReadOnlyList<RolloutDevice> Devices { get; }

    /// <summary>Length of the signed 2.0.0 bundle every device downloads.</summary>
    public long V2BundleBytes { get; }

    /// <summary>How the rig is put together.</summary>
    public sealed record Options
    {
        public int Devices { get; init; } = 3;

        /// <summary>Sensor rate per device: 640 Hz is 10 windows/s (hop 64), so three daemons stay light on two cores.</summary>
        public int SensorRateHz { get; init; } = 640;

        /// <summary>
        /// The devices' health window after activating a release. It is what makes a rollout last long enough for faults
        /// to land between assignment and commit (the 1 MB download over loopback takes milliseconds).
        /// </summary>
        public TimeSpan ObserveWindow { get; init; } = TimeSpan.FromSeconds(8);

        /// <summary>The mirror's rate per bundle download: 400 kB/s makes the 1.1 MB bundle take about 3 s, like a slow link.</summary>
        public long DownloadBytesPerSecond { get; init; } = 400_000;

        /// <summary>Model size of release 2.0.0 (its int8 weights; the bundle is a little larger).</summary>
        public long V2ModelBytes { get; init; } = 1_000_000;
    }

    public static async Task<RolloutRig> StartAsync(ChaosRun run, Options options, CancellationToken ct)
    {
        // The models are generated while the broker and the hub start (the 1 MB one takes seconds).
        var releases = Task.Run(() => (First: FleetReleases.First(options.SensorRateHz), Second: FleetReleases.Sized(options.V2ModelBytes, options.SensorRateHz)), ct);
        var broker = await TelemetryRig.StartBrokerAsync(run).ConfigureAwait(false);
        HubProcess? hub = null;
        HubApi? api = null;
        CorruptingMirror? mirror = null;
        var devices = new List<RolloutDevice>();
        try
        {
            string hubDir = run.Subdirectory("hub"), keys = Path.Combine(hubDir, "keys");
            await HubProcess.CliAsync(["keys", "init", "--out", keys], ct).ConfigureAwait(false);
            string token = (await HubProcess.CliAsync(["tokens", "create", "--role", "admin", "--name", "chaos", "--store", "sqlite:" + HubProcess.StoreIn(hubDir)], ct)
                .ConfigureAwait(false)).Trim().Split('\n')[^1].Trim();
            hub = await HubProcess.StartAsync(hubDir, broker.Port, ct,
                ["--trust-dir", Path.Combine(keys, "online"), "--model-cache", Path.Combine(hubDir, "models")]).ConfigureAwait(false);
            api = new HubApi(hub.BaseUri, token);
            await WaitForHubMqttAsync(api, hub, ct).ConfigureAwait(false);

            var ids = Enumerable.Range(1, options.Devices).Select(i => $"chaos-ro-{i}").ToList();
            foreach (var id in ids)
                await api.PostAsync("api/v1/devices", new JsonObject { ["id"] = id, ["labels"] = new JsonObject { [CohortLabel] = CohortValue } }, ct).ConfigureAwait(false);
            var (first, second) = await releases.ConfigureAwait(false);
            await PublishAsync(api, first, ct).ConfigureAwait(false);
            long v2Bytes = await PublishAsync(api, second, ct).ConfigureAwait(false);
            run.Log($"hub :{hub.Port} publishes {FleetReleases.Family} 1.0.0 and 2.0.0 (model {second.Onnx.Length:N0} bytes, signed bundle {v2Bytes:N0} bytes)");

            mirror = new CorruptingMirror(run.Seed) { Upstream = hub.BaseUri, BytesPerSecond = options.DownloadBytesPerSecond };
            var updates = UpdatesJson(hub.BaseUri, mirror.BaseUri, Path.Combine(keys, "online", "1.root.json"), options.ObserveWindow);
            foreach (var id in ids)
            {
                var agent = await AgentDaemon.CreateAsync(run.Subdirectory(Path.Combine("devices", id)), new AgentDaemon.Options
                {
                    DeviceId = id,
                    MqttPort = broker.Port,
                    SensorRateHz = options.SensorRateHz,
                    InstallModel = false,
                    UpdatesJson = updates,
                }, ct).ConfigureAwait(false);
                devices.Add(new RolloutDevice(agent, new CommitWitness(agent)));
                agent.Start();
            }
            foreach (var d in devices) await d.Witness.WaitForBootAsync(null, TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            run.Log($"rig up: broker :{broker.Port}, hub :{hub.Port}, devices {string.Join(", ", devices.Select(d => $"{d.Id} (pid {d.Agent.ProcessId})"))}, no model installed yet");
            return new RolloutRig(run, broker, hub, mirror, api, devices, v2Bytes);
        }
        catch
        {
            foreach (var d in devices)
            {
                await d.Witness.DisposeAsync().ConfigureAwait(false);
                await d.Agent.DisposeAsync().ConfigureAwait(false);
            }
            api?.Dispose();
            if (mirror is not null) await mirror.DisposeAsync().ConfigureAwait(false);
            if (hub is not null) await hub.DisposeAsync().ConfigureAwait(false);
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The daemons' <c>updates</c> section, as tools/EdgeAgent.Demo writes it (targets through <paramref name="mirror"/>), with short timings so a rollout takes
    /// seconds: a poll every 3 s besides the fleet hint, quick retries, a health window of <paramref name="observe"/> with at
    /// least 3 inferences per second of it (the sensor gives 10).
    /// The collapse and low-confidence criteria are off: the generated models are not trained on what the synthetic
    /// sensor produces, and the suite judges transport and state, not model quality (error rate and latency stay armed).
    /// </summary>
    private static string UpdatesJson(Uri hub, Uri mirror, string trustedRoot, TimeSpan observe) => $$"""
        {
            "metadataUrl": "{{hub}}tuf/metadata/", "targetBaseUrl": "{{mirror}}tuf/targets/", "trustedRoot": "{{trustedRoot}}",
            "hardwareId": "linux-x64", "pollInterval": "3s", "retryInitial": "500ms", "retryMax": "4s",
            "observeWindow": "{{observe.TotalSeconds:0}}s", "observeMinCalls": {{(int)(observe.TotalSeconds * 3)}}, "observeMaxWindow": "60s", "latencyRuns": 50,
            "collapseShare": 1, "maxLowConfidenceShare": 1
          }
        """;

    private static async Task WaitForHubMqttAsync(HubApi api, HubProcess hub, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer";
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                last = (string?)(await api.GetAsync("healthz", ct).ConfigureAwait(false))?["mqtt"] ?? "?";
                if (last == "Connected") return;
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
        throw new TimeoutException($"the hub's MQTT connection is not up after 60 s ({last}); see {Path.GetDirectoryName(hub.StorePath)}/hub.log");
    }

    /// <summary>Registers the model (the hub checks it and builds the bundle) and publishes it signed; returns the bundle's length.</summary>
    private static async Task<long> PublishAsync(HubApi api, FleetRelease release, CancellationToken ct)
    {
        await api.RegisterModelAsync(release.Onnx, release.ManifestJson, null, ct).ConfigureAwait(false);
        var published = await api.PostAsync("api/v1/releases", new JsonObject { ["model"] = FleetReleases.Family, ["version"] = release.Version }, ct).ConfigureAwait(false);
        return (long?)published?["length"] ?? 0;
    }

    /// <summary>Rolls out 1.0.0 to every device (they start with nothing) and waits until the hub reports it completed.</summary>
    public async Task InstallFirstReleaseAsync(CancellationToken ct)
    {
        var id = await StartRolloutAsync("1.0.0", ct).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var end = await WaitForRolloutAsync(id, TimeSpan.FromSeconds(180), ct).ConfigureAwait(false);
        if (end.State != "completed")
            throw new InvalidOperationException($"the first rollout {id} (1.0.0, no fault injected) ended {end.State} after {clock.Elapsed.TotalSeconds:0} s: {end.Reason} {end.DeviceStates}");
        Run.Log($"1.0.0 installed through rollout {id} on every device in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>The id of the rollout <see cref="StartRolloutAsync"/> started last, or null.</summary>
    public string? LastRolloutId { get; private set; }

    /// <summary>Starts a one-step rollout of <paramref name="version"/> to the whole cohort; returns its id.</summary>
    /// <remarks>No bake time; refusal and rollback ratios stay armed; drift, confidence and fallback limits off (generated models).</remarks>
    public async Task<string> StartRolloutAsync(string version, CancellationToken ct)
    {
        var created = await _api.PostAsync("api/v1/rollouts", new JsonObject
        {
            ["family"] = FleetReleases.Family,
            ["version"] = version,
            ["cohort"] = new JsonObject { [CohortLabel] = CohortValue },
            ["steps"] = new JsonArray(new JsonObject { ["percent"] = 100, ["bakeSeconds"] = 0, ["minDevices"] = 1 }),
            ["thresholds"] = new JsonObject { ["maxDriftPsi"] = null, ["minMeanConfidence"] = null, ["maxFallbackRate"] = null },
        }, ct).ConfigureAwait(false);
        var id = (string?)created?["id"] ?? throw new InvalidOperationException("the hub created a rollout without an id");
        LastRolloutId = id;
        Run.Log($"rollout {id} of {FleetReleases.Family} {version} started");
        return id;
    }

    /// <summary>The hub's view of a rollout; <c>unreachable</c> while the hub does not answer (killed, restarting).</summary>
    public async Task<RolloutProgress> ProgressAsync(string id, CancellationToken ct)
    {
        try
        {
            var r = await _api.GetAsync($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
            return new RolloutProgress((string?)r?["state"] ?? "?", r?["deviceStates"]?.ToJsonString() ?? "{}", (string?)r?["reason"]);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return new RolloutProgress("unreachable", "{}", e.Message);
        }
    }

    /// <summary>
    /// The course of the fault scenarios: 1.0.0 installed by a rollout, a second of load, then the rollout of 2.0.0 with
    /// <see cref="ChaosRun.Rounds"/> faults. Round 1 comes a seeded 0..<paramref name="firstWithinMs"/> ms after the start
    /// (fleet hint, metadata, the throttled download), later rounds 0.5–2 s (short) or 0.5–3 s after the previous fault
    /// ended (the health window, commit reports, the engine's decision). Before each fault the devices' own update phases
    /// are recorded; <paramref name="inject"/> gets the round and a description of the moment, injects the fault and
    /// returns when it is over.
    /// </summary>
    /// <returns>The rollout's id and, per round, where the devices were when the fault began.</returns>
    public async Task<(string RolloutId, IReadOnlyList<string> Landed)> RolloutWithFaultsAsync(int firstWithinMs, Func<int, string, Task> inject, CancellationToken ct)
    {
        await InstallFirstReleaseAsync(ct).ConfigureAwait(false);
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        var id = await StartRolloutAsync("2.0.0", ct).ConfigureAwait(false);
        var landed = new List<string>();
        for (int round = 1; round <= Run.Rounds; round++)
        {
            var wait = TimeSpan.FromMilliseconds(round == 1 ? Run.Random.Next(0, firstWithinMs) : Run.Random.Next(500, Run.IsShort ? 2000 : 3000));
            await Task.Delay(wait, ct).ConfigureAwait(false);
            var hub = await ProgressAsync(id, ct).ConfigureAwait(false);
            var phases = await DevicePhasesAsync(ct).ConfigureAwait(false);
            landed.Add(phases);
            await inject(round, $"{wait.TotalMilliseconds:0} ms after {(round == 1 ? "the rollout started" : "the last fault ended")}, devices {phases}, hub: rollout {hub.State} {hub.DeviceStates}").ConfigureAwait(false);
        }
        return (id, landed);
    }

    /// <summary>Where each device's update is right now, from the daemons themselves (e.g. <c>chaos-ro-1:downloading chaos-ro-2:observing</c>).</summary>
    public async Task<string> DevicePhasesAsync(CancellationToken ct)
    {
        var phases = await Task.WhenAll(Devices.Select(d => d.Agent.UpdatePhaseAsync(ct))).ConfigureAwait(false);
        return string.Join(' ', Devices.Select((d, i) => $"{d.Id}:{phases[i]}"));
    }

    /// <summary>Polls the rollout every 500 ms until it finished (completed, halted, rolled back, aborted) or <paramref name="timeout"/> passed.</summary>
    public async Task<RolloutProgress> WaitForRolloutAsync(string id, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var progress = await ProgressAsync(id, ct).ConfigureAwait(false);
        while (!progress.Finished && clock.Elapsed < timeout)
        {
            await Task.Delay(500, ct).ConfigureAwait(false);
            progress = await ProgressAsync(id, ct).ConfigureAwait(false);
        }
        return progress;
    }

    /// <summary>
    /// The end of every rollout scenario, after the last fault: (1) the rollout reaches <c>completed</c> at the hub within
    /// <paramref name="rolloutTimeout"/>; (2) every daemon recovers by itself and <c>edgeagent status --json</c> shows
    /// <paramref name="version"/> active and committed, MQTT connected, backlog drained; (3) each exits 0 on SIGTERM;
    /// (4) the hub catches up and the delivery check balances for every device (telemetry and update transitions alike:
    /// they share the outbox's seqs), each update transition the hub stored is applied once to the device's update
    /// history, and the hub's newest state of each device is <paramref name="version"/> committed; (5) every outbox and
    /// the hub store pass <c>PRAGMA integrity_check</c>. Problems go to the run; returns the figures.
    /// </summary>
    public async Task<string> VerifyAsync(string rolloutId, string version, TimeSpan rolloutTimeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var end = await WaitForRolloutAsync(rolloutId, rolloutTimeout, ct).ConfigureAwait(false);
        double rolloutSeconds = clock.Elapsed.TotalSeconds;
        Run.Log($"rollout {rolloutId}: {end.State} {end.DeviceStates} {end.Reason} ({rolloutSeconds:0.0} s after the last fault)");
        Run.Check(end.State == "completed", $"rollout {rolloutId} is {end.State} {rolloutSeconds:0} s after the last fault (expected completed): {end.Reason} {end.DeviceStates}");

        double slowest = 0;
        // A rollout that ended otherwise (halted, rolled back) will not bring the devices to the version: a short look each.
        var deviceTimeout = TimeSpan.FromSeconds(end.State == "completed" ? 60 : 10);
        foreach (var d in Devices)
        {
            var (recovered, status, last, elapsed) = await d.Agent.WaitForRecoveryAsync($"{FleetReleases.Family} {version}", TelemetryRig.RecoveredDepth,
                deviceTimeout, ct, requireCommitted: true).ConfigureAwait(false);
            slowest = Math.Max(slowest, elapsed.TotalSeconds);
            Run.Log($"{d.Id}: {(recovered ? "serving" : "NOT serving")} {FleetReleases.Family} {version} committed after {elapsed.TotalSeconds:0.0} s ({last})");
            Run.Check(recovered, $"{d.Id} did not serve {FleetReleases.Family} {version} committed with MQTT connected and its backlog drained within {deviceTimeout.TotalSeconds:0} s: {last}");
            if (status is { } s) await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(d.Agent.ConfigPath)!, "agent-status.json"), s.ToString(), ct).ConfigureAwait(false);
        }
        foreach (var d in Devices)
        {
            int exit = await d.Agent.StopAsync().ConfigureAwait(false);
            Run.Check(exit == 0, $"{d.Id} exited with {exit} on SIGTERM (expected 0)");
        }

        foreach (var d in Devices)
            await DeliveryCheck.AwaitCatchUpAsync(Hub.StorePath, d.Agent.OutboxPath, d.Id, d.Witness, TimeSpan.FromSeconds(Run.IsShort ? 15 : 30), ct).ConfigureAwait(false);
        await Hub.StopAsync().ConfigureAwait(false);
        long committed = 0, atHub = 0, pending = 0, missing = 0, updateEvents = 0;
        long rejected = 0;
        foreach (var d in Devices)
        {
            var report = DeliveryCheck.Judge(Run, Hub.StorePath, d.Agent.OutboxPath, d.Id, d.Witness);
            committed += report.Committed;
            atHub += report.AtHub;
            pending += report.Pending;
            missing += report.Missing;
            rejected = report.RejectedAtHub;
            updateEvents += CheckUpdateHistory(d.Id, version);
        }
        TelemetryRig.CheckIntegrity(Run, [("hub store", Hub.StorePath), .. Devices.Select(d => ($"{d.Id} outbox", d.Agent.OutboxPath))]);
        return $"rollout={end.State} in {rolloutSeconds:0.0}s after the last fault, devices={Devices.Count} committed={committed} atHub={atHub} pending={pending} " +
               $"missing={missing} updateEvents={updateEvents} rejected={rejected} recovery≤{slowest:0.0}s bundle={V2BundleBytes}B";
    }

    /// <summary>
    /// The hub applied each update transition the device sent exactly once (<c>device_update_events</c> rows = update
    /// stream events stored, same identities) and its newest state of the device is <paramref name="version"/> committed.
    /// Returns the number of update events stored.
    /// </summary>
    private long CheckUpdateHistory(string deviceId, string version)
    {
        using var h = SqliteFiles.OpenReadOnly(Hub.StorePath);
        long stored = SqliteFiles.Scalar(h, "SELECT count(*) FROM telemetry_events WHERE device_id = $d AND stream = 'update'", ("$d", deviceId));
        long applied = SqliteFiles.Scalar(h, "SELECT count(*) FROM device_update_events WHERE device_id = $d", ("$d", deviceId));
        long matched = SqliteFiles.Scalar(h, """
            SELECT count(*) FROM device_update_events u JOIN telemetry_events t
              ON t.device_id = u.device_id AND t.boot_id = u.boot_id AND t.seq = u.seq AND t.stream = 'update'
            WHERE u.device_id = $d
            """, ("$d", deviceId));
        Run.Check(stored == applied && applied == matched,
            $"{deviceId}: the hub stored {stored} update event(s) but applied {applied} to the update history ({matched} with the same identity)");
        using var cmd = h.CreateCommand();
        cmd.CommandText = "SELECT version, phase FROM device_update_state WHERE device_id = $d AND family = $f";
        cmd.Parameters.AddWithValue("$d", deviceId);
        cmd.Parameters.AddWithValue("$f", FleetReleases.Family);
        using var r = cmd.ExecuteReader();
        string state = r.Read() ? $"{r.GetString(0)} {r.GetString(1)}" : "none";
        Run.Check(state == $"{version} committed", $"{deviceId}: the hub's newest update state is '{state}' (expected '{version} committed')");
        Run.Log($"{deviceId}: {stored} update events at the hub, {applied} applied, newest state {state}");
        return stored;
    }

    /// <summary>Tears every process down even when one part fails to (no orphaned brokers, hubs or agents).</summary>
    public async ValueTask DisposeAsync()
    {
        var failures = new List<Exception>();
        async Task Try(Func<ValueTask> dispose)
        {
            try { await dispose().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        foreach (var d in Devices)
        {
            await Try(() => d.Witness.DisposeAsync());
            await Try(() => d.Agent.DisposeAsync());
        }
        _api.Dispose();
        await Try(() => Mirror.DisposeAsync());
        await Try(() => Hub.DisposeAsync());
        await Try(() => Broker.DisposeAsync());
        await TelemetryRig.SaveBrokerLogAsync(Run, Broker).ConfigureAwait(false); // after the stop: the broker's stdout is block-buffered
        if (failures.Count > 0) throw new AggregateException("tearing the rollout rig down failed", failures);
    }
}
