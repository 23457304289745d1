using System.Text.Json;
using EdgeAgent.Hosting.Control;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Chaos.Rig;

/// <summary>What the daemon's <c>telemetry.stats</c> said at one moment.</summary>
public sealed record OutboxSnapshot(string BootId, long AppendedEvents, long Depth, long DroppedEvents, long TombstonesWritten, long DiskFullErrors, long MergedWindows);

/// <summary>
/// A real <c>edgeagent run</c> daemon (the built apphost) with its own configuration: synthetic sensor,
/// a CNN bundle installed with the agent's own CLI (<c>make-model</c>, <c>bundle build</c>,
/// <c>bundle install</c>), state and runtime directories under the scenario's log directory (or a
/// tmpfs for disk-full), MQTT to a given port (a broker or a chaos proxy). Its output goes to
/// <c>agent.log</c>. One owner drives it.
/// </summary>
public sealed class AgentDaemon : IAsyncDisposable
{
    public const string ModelName = "activity";
    public const string ModelVersion = "1.0.0";

    private readonly ManagedProcess _process;

    private AgentDaemon(string deviceId, string configPath, string stateDirectory, string controlSocket, ManagedProcess process)
    {
        DeviceId = deviceId;
        ConfigPath = configPath;
        StateDirectory = stateDirectory;
        ControlSocket = controlSocket;
        _process = process;
    }

    public string DeviceId { get; }
    public string ConfigPath { get; }
    public string StateDirectory { get; }
    public string ControlSocket { get; }
    public string OutboxPath => Path.Combine(StateDirectory, "outbox.db");
    public bool IsRunning => _process.IsRunning;
    public int ProcessId => _process.ProcessId;

    /// <summary>Exit code of the last run once it ended by itself or was stopped; null while running.</summary>
    public int? ExitCode => _process.ExitCode;

    /// <summary>Options of the daemon's configuration file.</summary>
    public sealed record Options
    {
        public required string DeviceId { get; init; }
        public required int MqttPort { get; init; }
        /// <summary>State directory (outbox, model store); defaults to <c>state</c> under the work directory.</summary>
        public string? StateDirectory { get; init; }
        public int SensorRateHz { get; init; } = 3200;
        public long OutboxBudgetBytes { get; init; } = 64L * 1024 * 1024;
        public IReadOnlyDictionary<string, string>? Environment { get; init; }

        /// <summary>
        /// Install the CNN bundle with the agent's CLI before the first start (default). False: the device starts
        /// with no model and idles until its update loop installs the first one a rollout assigns.
        /// </summary>
        public bool InstallModel { get; init; } = true;

        /// <summary>The <c>updates</c> section as a JSON object (the update loop); null leaves updates off.</summary>
        public string? UpdatesJson { get; init; }
    }

    /// <summary>Writes the configuration, installs the model and returns the daemon, not yet started.</summary>
    public static async Task<AgentDaemon> CreateAsync(string workDirectory, Options options, CancellationToken ct)
    {
        Directory.CreateDirectory(workDirectory);
        string state = options.StateDirectory ?? Path.Combine(workDirectory, "state");
        // The control socket path must stay under the 108-byte Unix socket limit: keep it short and in /tmp.
        string runtime = Directory.CreateTempSubdirectory("eachaos-").FullName;
        Directory.CreateDirectory(state);
        if (options.InstallModel) await InstallModelAsync(workDirectory, Path.Combine(state, "models"), ct).ConfigureAwait(false);
        string config = Path.Combine(workDirectory, "agent.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "deviceId": "{{options.DeviceId}}",
              "stateDirectory": "{{state}}",
              "runtimeDirectory": "{{runtime}}",
              "mqtt": { "host": "127.0.0.1", "port": {{options.MqttPort}}, "useTls": false, "keepAlive": "5s" },
              "outbox": { "budgetBytes": {{options.OutboxBudgetBytes}} },
              "metrics": { "enabled": false },
              "logging": { "filePath": "{{Path.Combine(workDirectory, "agent-serilog.log")}}" },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": {{options.SensorRateHz}} } }{{(options.UpdatesJson is null ? "" : ",\n  \"updates\": " + options.UpdatesJson)}}
            }
            """, ct).ConfigureAwait(false);
        var process = new ManagedProcess(RepoLayout.AgentExecutable, ["run", "--config", config], Path.Combine(workDirectory, "agent.log"), options.Environment);
        return new AgentDaemon(options.DeviceId, config, state, Path.Combine(runtime, "control.sock"), process);
    }

    private static async Task InstallModelAsync(string work, string modelStore, CancellationToken ct)
    {
        string model = Path.Combine(work, "cnn.onnx"), bundle = Path.Combine(work, "activity-1.bundle");
        await CliAsync(ct, "make-model", "--kind", "cnn", "--output", model).ConfigureAwait(false);
        await CliAsync(ct, "bundle", "build", "--model", model, "--name", ModelName, "--version", ModelVersion,
            "--release-counter", "1", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50", "--output", bundle).ConfigureAwait(false);
        await CliAsync(ct, "bundle", "install", bundle, "--models-dir", modelStore, "--hardware-id", "x64-dev").ConfigureAwait(false);
    }

    private static async Task<string> CliAsync(CancellationToken ct, params string[] args)
    {
        ct.ThrowIfCancellationRequested();
        var r = await ChildProcess.RunAsync(RepoLayout.AgentExecutable, args, timeout: TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (r.ExitCode != 0) throw new InvalidOperationException($"edgeagent {string.Join(' ', args)} failed ({r.ExitCode}): {r.StandardError}{r.StandardOutput}");
        return r.StandardOutput;
    }

    public void Start() => _process.Start();

    /// <summary>SIGKILL: the outbox's last group commit may be cut; what was committed must survive.</summary>
    public Task KillAsync() => _process.KillAsync();

    /// <summary>SIGTERM: the agent flushes its outbox and exits 0.</summary>
    public Task<int> StopAsync() => _process.TerminateAsync();

    /// <summary>The outbox counters over the control socket; null while the agent does not answer.</summary>
    public async Task<OutboxSnapshot?> TryStatsAsync(CancellationToken ct)
    {
        try
        {
            var r = await new ControlClient(ControlSocket, TimeSpan.FromSeconds(5)).SendAsync("telemetry.stats", cancellationToken: ct).ConfigureAwait(false);
            if (!r.Ok || r.Result is not { } s) return null;
            return new OutboxSnapshot(s.GetProperty("bootId").GetString()!, s.GetProperty("appendedEvents").GetInt64(), s.GetProperty("depth").GetInt64(),
                s.GetProperty("droppedEvents").GetInt64(), s.GetProperty("tombstonesWritten").GetInt64(), s.GetProperty("diskFullErrors").GetInt64(),
                s.GetProperty("mergedWindows").GetInt64());
        }
        catch (ControlClientException)
        {
            return null;
        }
    }

    /// <summary>
    /// The update phase the running daemon reports (<c>agent.status</c> over the control socket: <c>updateState</c>, wire
    /// form such as <c>downloading</c> or <c>observing</c>); <c>down</c> when the process is not running, <c>?</c> when it does not answer.
    /// </summary>
    public async Task<string> UpdatePhaseAsync(CancellationToken ct)
    {
        if (!IsRunning) return "down";
        try
        {
            var r = await new ControlClient(ControlSocket, TimeSpan.FromSeconds(2)).SendAsync("agent.status", cancellationToken: ct).ConfigureAwait(false);
            return r.Ok && r.Result is { } s && s.TryGetProperty("updateState", out var phase) ? phase.GetString() ?? "?" : "?";
        }
        catch (ControlClientException)
        {
            return "?";
        }
    }

    /// <summary><c>edgeagent status --config … --json</c> as an operator would run it; null when it exits non-zero.</summary>
    public async Task<JsonElement?> StatusAsync(CancellationToken ct)
    {
        var r = await ChildProcess.RunAsync(RepoLayout.AgentExecutable, ["status", "--config", ConfigPath, "--json"], timeout: TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return r.ExitCode == 0 ? JsonDocument.Parse(r.StandardOutput).RootElement.Clone() : null;
    }

    /// <summary>
    /// Polls <c>edgeagent status --json</c> every 500 ms until the agent has recovered by itself: host ready, MQTT
    /// <c>Connected</c>, outbox depth ≤ <paramref name="maxDepth"/>, serving <paramref name="expectedModel"/>
    /// (<c>"name version"</c>), and with <paramref name="requireCommitted"/> that model committed (not on trial). Stops
    /// early when the process exited by itself (it cannot recover then). Never throws on a late or missing answer.
    /// </summary>
    /// <returns>Whether it recovered, the last status document, a one-line description of the last state, the time taken.</returns>
    public async Task<(bool Recovered, JsonElement? Status, string Last, TimeSpan Elapsed)> WaitForRecoveryAsync(
        string expectedModel, long maxDepth, TimeSpan timeout, CancellationToken ct, bool requireCommitted = false)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        JsonElement? status = null;
        string last = "no answer";
        while (clock.Elapsed < timeout)
        {
            if (!IsRunning)
            {
                // It cannot recover by itself any more; say how it ended instead of waiting out the timeout.
                last = $"the agent process exited by itself with code {ExitCode} (see agent.log)";
                break;
            }
            status = await StatusAsync(ct).ConfigureAwait(false);
            if (status is { } s)
            {
                var agent = s.GetProperty("agent");
                var mqtt = agent.GetProperty("mqtt").GetString();
                bool ready = s.GetProperty("host").GetProperty("ready").GetBoolean();
                long depth = agent.GetProperty("outboxDepth").GetInt64();
                var model = agent.GetProperty("model");
                bool isModel = model.ValueKind == JsonValueKind.Object;
                string served = isModel ? $"{model.GetProperty("name").GetString()} {model.GetProperty("version").GetString()}" : "none";
                bool committed = isModel && model.TryGetProperty("committed", out var c) && c.ValueKind == JsonValueKind.True;
                last = $"ready={ready} mqtt={mqtt} depth={depth} model={served}{(isModel ? committed ? " (committed)" : " (not committed)" : "")}";
                if (ready && mqtt == "Connected" && depth <= maxDepth && served == expectedModel && (committed || !requireCommitted))
                    return (true, status, last, clock.Elapsed);
            }
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
        return (false, status, last, clock.Elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        try { Directory.Delete(Path.GetDirectoryName(ControlSocket)!, recursive: true); }
        catch (IOException) { }
    }
}
