using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using EdgeAgent.Hub.Provisioning.Fleet;

namespace EdgeAgent.Demo;

internal sealed record DemoOptions
{
    public string Directory { get; init; } = Path.GetFullPath("out/demo");
    public int Agents { get; init; } = 3;
    public bool Keep { get; init; }
    public string AgentBinary { get; init; } = "";
    public string HubBinary { get; init; } = "";
    public int HttpPort { get; init; } = 8080;
    public int MqttPort { get; init; } = 8883;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Agents is < 3 or > 20) problems.Add($"--agents {Agents}: use 3..20 (the canary needs a cohort smaller than the fleet)");
        if (!File.Exists(AgentBinary)) problems.Add($"--agent-bin '{AgentBinary}' does not exist (./build.sh demo builds it)");
        if (!File.Exists(HubBinary)) problems.Add($"--hub-bin '{HubBinary}' does not exist (./build.sh demo builds it)");
        if (!File.Exists("/usr/sbin/mosquitto")) problems.Add("/usr/sbin/mosquitto is missing: ./build.sh prereqs installs it");
        return problems;
    }
}

/// <summary>
/// The five-minute tour (issue 8): a real Mosquitto with TLS and per-device ACLs, the hub on SQLite and
/// <see cref="DemoOptions.Agents"/> agent daemons with synthetic sensors, all on loopback. It registers,
/// signs and rolls out v1; injects drift into one device and shows the hub detecting it; shows the cloud
/// tier answering hard cases; canaries v2 and promotes it; and releases a bad v3 that the devices roll
/// back by themselves and the rollout halts on. Every step waits on what the hub reports, with a time limit
/// and a clear failure naming the log to read.
/// </summary>
internal sealed class DemoRun(DemoOptions options)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private string Dir => options.Directory;
    private string Url => $"http://127.0.0.1:{options.HttpPort}/";
    private string HubStore => $"sqlite:{Path.Combine(Dir, "hub", "hub.db")}";
    private ChildProcesses _children = null!;
    private readonly Stopwatch _agentsStarted = new();
    private const int DriftStartSeconds = 60;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        PrepareDirectory();
        await using var children = new ChildProcesses(Path.Combine(Dir, "logs"));
        _children = children;
        Console.WriteLine($"EdgeAgent demo — {options.Agents} devices, broker, hub; data and logs in {Dir}");
        Console.WriteLine();
        try
        {
            await RunStepsAsync(ct);
            Console.WriteLine();
            Console.WriteLine($"Done in {_clock.Elapsed.TotalSeconds:F0} s. Dashboard: {Url} (token in {Path.Combine(Dir, "hub", "admin.token")})");
            if (options.Keep)
            {
                Console.WriteLine("--keep: everything keeps running. Press Ctrl-C to stop.");
                try { await Task.Delay(Timeout.Infinite, ct); } catch (OperationCanceledException) { }
            }
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception e) when (e is DemoException or HubApiException)
        {
            Console.WriteLine();
            Console.Error.WriteLine($"demo FAILED: {e.Message}");
            Console.Error.WriteLine($"logs: {children.LogDirectory}");
            return 1;
        }
        finally
        {
            await children.StopAllAsync(TimeSpan.FromSeconds(15));
            Console.WriteLine($"Stopped. Logs: {children.LogDirectory}   data: {Dir}");
        }
    }

    private void PrepareDirectory()
    {
        // A fresh run each time: old state (release counters, TUF versions) would make a second run differ.
        if (System.IO.Directory.Exists(Dir))
            foreach (var sub in new[] { "pki", "hub", "keys", "agents", "logs", "models" })
                if (System.IO.Directory.Exists(Path.Combine(Dir, sub))) System.IO.Directory.Delete(Path.Combine(Dir, sub), recursive: true);
        System.IO.Directory.CreateDirectory(Dir);
    }

    private async Task RunStepsAsync(CancellationToken ct)
    {
        Step(1, "Fleet PKI, device identities and the broker (mutual TLS, one ACL subtree per device)");
        var (provisioner, devices) = await ProvisionAsync(ct);
        StartBroker(provisioner);
        await WaitForPortAsync("mosquitto", options.MqttPort, ct);
        Done($"Mosquitto on 127.0.0.1:{options.MqttPort} (require_certificate, ACL file {Path.Combine(provisioner.Broker.Directory, "acl")})");

        Step(2, "Release keys and the hub");
        System.IO.Directory.CreateDirectory(Path.Combine(Dir, "hub"));
        await ChildProcesses.RunAsync(options.HubBinary, ["keys", "init", "--out", Path.Combine(Dir, "keys")], ct);
        var token = (await ChildProcesses.RunAsync(options.HubBinary, ["tokens", "create", "--role", "admin", "--name", "demo", "--store", HubStore], ct)).Trim().Split('\n')[^1].Trim();
        await File.WriteAllTextAsync(Path.Combine(Dir, "hub", "admin.token"), token + "\n", ct);
        StartHub(provisioner);
        using var hub = new HubApi(new Uri(Url), token);
        await WaitUntilAsync("hub /healthz", TimeSpan.FromSeconds(60), "edgehub", async () =>
        {
            try { return ((string?)(await hub.GetAsync("healthz", ct))?["mqtt"] == "Connected", "waiting for the hub's MQTT connection"); }
            catch (HttpRequestException) { return (false, "starting"); }
        }, ct);
        for (int i = 0; i < devices.Count; i++)
            await hub.PostAsync("api/v1/devices", new JsonObject
            {
                ["id"] = DeviceId(i),
                ["labels"] = new JsonObject { ["site"] = "demo", ["line"] = i % 2 == 0 ? "a" : "b" },
            }, ct);
        Done($"edgehub on {Url} (SQLite), root keys in {Path.Combine(Dir, "keys", "offline")} (move them offline)");

        Step(3, "Model v1: register (checks + drift reference), sign, roll out to the fleet");
        await hub.RegisterModelAsync(DemoModels.CloudModel().Onnx, DemoModels.CloudModel().ManifestJson, null, ct);
        var v1 = DemoModels.V1();
        await ReleaseAsync(hub, v1, ct);
        for (int i = 0; i < devices.Count; i++) StartAgent(i, devices[i]);
        _agentsStarted.Restart();
        var r1 = await StartRolloutAsync(hub, v1, [100], ct);
        await WaitForRolloutAsync(hub, r1, "completed", TimeSpan.FromMinutes(4), ct);
        Done($"all {devices.Count} devices committed {DemoModels.Family} {v1.Version}");

        Step(4, "Drift: device 'dev-03' starts seeing shifted data; the hub merges the fleet's sketches");
        // Only what the fleet reports after dev-03's drift began counts (the first minute matches the reference).
        while (_agentsStarted.Elapsed < TimeSpan.FromSeconds(DriftStartSeconds + 20)) await Task.Delay(1000, ct);
        var psi = await WaitForDriftAsync(hub, v1, TimeSpan.FromMinutes(3), ct);
        Done($"fleet PSI on {psi.Feature}: {psi.Value:F2} (alert threshold 0.25) — see the Drift page");

        Step(5, "Cloud tier: low-confidence windows answered by the hub's larger model");
        var hard = await WaitForHardCasesAsync(hub, TimeSpan.FromMinutes(2), ct);
        Done(hard);

        // The drift above is a sensor whose offset keeps growing; a release judged on that device now would be judged
        // on data no model was trained for (its health window rolls the release back there, and the rollout with it).
        // As in the field, the sensor gets fixed first: the agent restarts without the drift, keeping its state.
        await _children.StopAsync("agent-" + DeviceId(2), TimeSpan.FromSeconds(15));
        StartAgent(2, devices[2], drift: false);
        Console.WriteLine($"      {DeviceId(2)}'s sensor re-mounted: its agent restarted without the drift (model, outbox and state kept)");

        Step(6, "Model v2: canary on one third of the fleet, shadowed on the device, then promoted");
        var v2 = DemoModels.V2();
        await ReleaseAsync(hub, v2, ct);
        var r2 = await StartRolloutAsync(hub, v2, [34, 100], ct);
        await WaitForRolloutAsync(hub, r2, "step-1-done", TimeSpan.FromMinutes(4), ct);
        Console.WriteLine("      canary healthy; promoting to the whole fleet");
        await hub.PostAsync($"api/v1/rollouts/{r2}/promote", null, ct);
        await WaitForRolloutAsync(hub, r2, "completed", TimeSpan.FromMinutes(4), ct);
        Done($"all devices committed {v2.Version}");

        Step(7, "Model v3 (bad: one class for everything): devices roll it back, the rollout halts");
        var v3 = DemoModels.V3();
        await ReleaseAsync(hub, v3, ct);
        var r3 = await StartRolloutAsync(hub, v3, [34, 100], ct);
        var reason = await WaitForRolloutAsync(hub, r3, "rolled-back", TimeSpan.FromMinutes(4), ct);
        Done($"rollout {r3} rolled back: {reason}; the fleet still runs {v2.Version}");
    }

    // ---- steps ----

    private async Task<(FleetProvisioner, IReadOnlyList<DeviceBundle>)> ProvisionAsync(CancellationToken ct)
    {
        var pki = Path.Combine(Dir, "pki");
        var provisioner = await FleetProvisioner.OpenAsync(new ProvisioningOptions
        {
            Directory = pki,
            BrokerHost = "127.0.0.1",
            CertificatePort = options.MqttPort,
            PasswordPort = null,
            HubPort = options.MqttPort + 2,
            BindAddress = "127.0.0.1",
            BrokerUser = Environment.UserName == "root" ? "root" : null,
            BrokerPidFile = Path.Combine(Dir, "pki", "mosquitto.pid"),
            ExtraBrokerConfig = ["log_dest stdout", "log_type error", "log_type warning", "log_type notice", "max_queued_messages 10000"],
        }, ct);
        var devices = new List<DeviceBundle>();
        for (int i = 1; i <= options.Agents; i++)
        {
            var device = await provisioner.AddDeviceAsync(DeviceId(i - 1), DeviceAuthentication.Certificate, ct);
            devices.Add(device);
        }
        await provisioner.AddHubInstanceAsync("hub-1", ct);
        return (provisioner, devices);
    }

    private static string DeviceId(int index) => $"dev-{index + 1:00}";

    private void StartBroker(FleetProvisioner provisioner) =>
        _children.Start("mosquitto", "/usr/sbin/mosquitto", ["-c", Path.Combine(provisioner.Broker.Directory, "mosquitto.conf")]);

    private void StartHub(FleetProvisioner provisioner)
    {
        var hubCreds = provisioner.Hub;
        _children.Start("edgehub", options.HubBinary,
        [
            "serve", "--store", HubStore, "--urls", Url.TrimEnd('/'),
            "--mqtt", $"127.0.0.1:{options.MqttPort + 2}", "--mqtt-client-id", "edgehub-demo",
            "--mqtt-ca", hubCreds.CaCertificatePath, "--mqtt-cert", hubCreds.CertificatePath, "--mqtt-key", hubCreds.KeyPath,
            "--trust-dir", Path.Combine(Dir, "keys", "online"), "--model-cache", Path.Combine(Dir, "hub", "models"),
        ]);
    }

    private void StartAgent(int index, DeviceBundle device, bool drift = true)
    {
        string id = DeviceId(index);
        string root = Path.Combine(Dir, "agents", id);
        System.IO.Directory.CreateDirectory(Path.Combine(root, "run"));
        // dev-03 drifts: its sensor's mean creeps up from DriftStartSeconds on (the drift the dashboard shows).
        string driftSettings = drift && index == 2 ? $$""", "driftStartSeconds": {{DriftStartSeconds}}, "driftMeanPerSecond": 0.05""" : "";
        var config = $$"""
            {
              "deviceId": "{{id}}",
              "stateDirectory": "{{root}}/state",
              "runtimeDirectory": "{{root}}/run",
              "mqtt": { "host": "127.0.0.1", "port": {{options.MqttPort}}, "useTls": true,
                        "caFile": "{{device.Directory}}/ca.crt", "certFile": "{{device.Directory}}/device.crt", "keyFile": "{{device.Directory}}/device.key", "keepAlive": "10s" },
              "metrics": { "enabled": true, "bind": "127.0.0.1", "port": {{9464 + index}} },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": {{100 + index}}, "rateHz": 50, "schedule": "{{DemoModels.Schedule}}"{{driftSettings}} } },
              "pipeline": { "drift": { "snapshotInterval": "10s" } },
              "cloud": { "enabled": true, "timeout": "2s" },
              "updates": {
                "metadataUrl": "{{Url}}tuf/metadata/", "targetBaseUrl": "{{Url}}tuf/targets/",
                "trustedRoot": "{{Dir}}/keys/online/1.root.json", "hardwareId": "linux-x64",
                "pollInterval": "30s", "observeWindow": "20s", "observeMinCalls": 15, "observeMaxWindow": "2m", "shadowWindows": 10
              }
            }
            """;
        string path = Path.Combine(root, "agent.json");
        File.WriteAllText(path, config);
        _children.Start("agent-" + id, options.AgentBinary, ["run", "--config", path]);
    }

    private async Task ReleaseAsync(HubApi hub, DemoRelease release, CancellationToken ct)
    {
        var model = await hub.RegisterModelAsync(release.Onnx, release.ManifestJson, DemoModels.ReferenceCsv(), ct);
        Console.WriteLine($"      registered {DemoModels.Family} {release.Version} ({release.Story}): {model?["sizeBytes"]} bytes, contract {model?["contract"]}");
        await hub.PostAsync("api/v1/releases", new JsonObject { ["model"] = DemoModels.Family, ["version"] = release.Version }, ct);
        Console.WriteLine($"      signed and published models/{DemoModels.Family}/{release.Version}.bundle (release counter {release.Counter})");
    }

    /// <summary>
    /// Starts a rollout. A step other than the last bakes for an hour: the demo promotes it by hand once the
    /// canary committed. Drift and confidence limits are off here: the demo injects drift on purpose and its
    /// generated models are not trained for high confidence; refusals and device rollbacks still halt.
    /// </summary>
    private static async Task<string> StartRolloutAsync(HubApi hub, DemoRelease release, int[] steps, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["family"] = DemoModels.Family,
            ["version"] = release.Version,
            ["steps"] = new JsonArray([.. steps.Select((s, i) => (JsonNode)new JsonObject
            {
                ["percent"] = s, ["bakeSeconds"] = i == steps.Length - 1 ? 0 : 3600, ["minDevices"] = 1,
            })]),
            ["thresholds"] = new JsonObject { ["maxDriftPsi"] = null, ["minMeanConfidence"] = null, ["maxFallbackRate"] = null },
        };
        var r = await hub.PostAsync("api/v1/rollouts", body, ct);
        var id = (string?)r?["id"] ?? r?["id"]?.ToString() ?? throw new DemoException("the hub created a rollout without an id");
        Console.WriteLine($"      rollout {id}: {string.Join(" → ", steps.Select(s => s + " %"))}");
        return id;
    }

    private async Task<string> WaitForRolloutAsync(HubApi hub, string id, string goal, TimeSpan limit, CancellationToken ct)
    {
        string detail = "";
        await WaitUntilAsync($"rollout {id} {goal}", limit, "edgehub", async () =>
        {
            var r = await hub.GetAsync($"api/v1/rollouts/{id}", ct);
            string state = (string?)r?["state"] ?? "?";
            detail = (string?)r?["reason"] ?? "";
            var first = r?["steps"]?[0];
            string progress = $"{state}, step {r?["step"]}, devices {r?["deviceStates"]?.ToJsonString()}, waiting for {r?["waitingFor"]}";
            bool done = goal switch
            {
                "step-1-done" => (int?)first?["assignedDevices"] > 0 && (int?)first?["committedDevices"] >= (int?)first?["targetDevices"],
                "rolled-back" => state is "rolled-back" or "halted",
                _ => state == goal,
            };
            if (goal != "rolled-back" && state is "halted" or "rolled-back" or "aborted")
                throw new DemoException($"rollout {id} {state}: {detail}");
            return (done, progress);
        }, ct);
        return detail;
    }

    private async Task<(string Feature, double Value)> WaitForDriftAsync(HubApi hub, DemoRelease release, TimeSpan limit, CancellationToken ct)
    {
        (string, double) best = ("", 0);
        await WaitUntilAsync("fleet drift above threshold", limit, "agent-dev-03", async () =>
        {
            var day = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            var r = await hub.GetAsync($"api/v1/drift/{DemoModels.Family}/{release.Version}?day={day}", ct);
            foreach (var f in r?["features"]?.AsArray() ?? [])
            {
                double psi = (double?)f?["psi"] ?? 0;
                if (psi > best.Item2) best = ((string?)f?["feature"] ?? "?", psi);
            }
            return (best.Item2 > 0.25, $"max PSI {best.Item2:F2}");
        }, ct);
        return best;
    }

    private async Task<string> WaitForHardCasesAsync(HubApi hub, TimeSpan limit, CancellationToken ct)
    {
        string summary = "";
        await WaitUntilAsync("hard cases at the hub", limit, "edgehub", async () =>
        {
            var cases = (await hub.GetAsync("api/v1/hard-cases?limit=200", ct))?.AsArray() ?? [];
            var answered = cases.Where(c => c?["cloudLabel"] is not null).ToList();
            var disagree = answered.Count(c => (string?)c?["cloudLabel"] != (string?)c?["localLabel"]);
            summary = $"{answered.Count} hard cases answered by the cloud model ({disagree} where it disagreed with the device), kept for labeling";
            return (answered.Count >= 3, $"{answered.Count} answered");
        }, ct);
        return summary;
    }

    // ---- console and waiting ----

    private void Step(int n, string title) => Console.WriteLine($"[{n}/7] {title}");

    private void Done(string what) => Console.WriteLine($"      ✔ {what}   (t+{_clock.Elapsed.TotalSeconds:F0} s)");

    private async Task WaitUntilAsync(string what, TimeSpan limit, string logName, Func<Task<(bool Done, string Progress)>> check, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        string progress = "";
        bool interactive = !Console.IsOutputRedirected;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            foreach (var name in new[] { "mosquitto", "edgehub" })
                if (!_children.IsRunning(name)) throw new DemoException($"{name} exited; see {_children.LogOf(name)}");
            (bool done, progress) = await check();
            if (done) break;
            if (deadline.Elapsed > limit)
                throw new DemoException($"{what}: not reached after {limit.TotalSeconds:F0} s (last: {progress}); see {_children.LogOf(logName)}");
            if (interactive) Console.Write($"\r      … {progress,-90}");
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
        if (interactive) Console.Write($"\r{new string(' ', 100)}\r");
    }

    private static async Task WaitForPortAsync(string name, int port, CancellationToken ct)
    {
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", port, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, ct);
            }
        }
        throw new DemoException($"{name} is not listening on 127.0.0.1:{port} after 10 s");
    }
}
