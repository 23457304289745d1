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
    }

    /// <summary>Writes the configuration, installs the model and returns the daemon, not yet started.</summary>
    public static async Task<AgentDaemon> CreateAsync(string workDirectory, Options options, CancellationToken ct)
    {
        Directory.CreateDirectory(workDirectory);
        string state = options.StateDirectory ?? Path.Combine(workDirectory, "state");
        // The control socket path must stay under the 108-byte Unix socket limit: keep it short and in /tmp.
        string runtime = Directory.CreateTempSubdirectory("eachaos-").FullName;
        Directory.CreateDirectory(state);
        await InstallModelAsync(workDirectory, Path.Combine(state, "models"), ct).ConfigureAwait(false);
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
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": {{options.SensorRateHz}} } }
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

    /// <summary><c>edgeagent status --config … --json</c> as an operator would run it; null when it exits non-zero.</summary>
    public async Task<JsonElement?> StatusAsync(CancellationToken ct)
    {
        var r = await ChildProcess.RunAsync(RepoLayout.AgentExecutable, ["status", "--config", ConfigPath, "--json"], timeout: TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return r.ExitCode == 0 ? JsonDocument.Parse(r.StandardOutput).RootElement.Clone() : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        try { Directory.Delete(Path.GetDirectoryName(ControlSocket)!, recursive: true); }
        catch (IOException) { }
    }
}
