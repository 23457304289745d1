using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// A temp directory with the CNN model installed (<c>make-model</c> → <c>bundle build</c> → <c>bundle install</c>),
/// a config file, and a running <c>edgeagent run</c> child process; the CLI is run against it as an operator would.
/// </summary>
public sealed class AgentDaemon : IAsyncDisposable
{
    private Process? _process;
    private readonly StringBuilder _log = new();

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("edgeagent-daemon-").FullName;
    public string ConfigPath => Path.Combine(Directory, "agent.json");
    public string OutputsFile => Path.Combine(Directory, "results.jsonl");
    public int MetricsPort { get; } = FreePort();
    public string Log { get { lock (_log) return _log.ToString(); } }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Installs the model; <paramref name="confidenceThreshold"/> 0.99 makes (almost) every window a hard case; <paramref name="driftProfile"/> is a reference drift profile JSON to bundle (or null).</summary>
    public async Task InstallModelAsync(double confidenceThreshold, string? driftProfile = null)
    {
        string model = Path.Combine(Directory, "cnn.onnx"), bundle = Path.Combine(Directory, "activity-1.bundle");
        await Ok(AgentProcess.RunAgentAsync("make-model", "--kind", "cnn", "--output", model));
        string[] build = ["bundle", "build", "--model", model, "--name", "activity", "--version", "1.0.0",
            "--release-counter", "1", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50",
            "--confidence-threshold", confidenceThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture), "--output", bundle,
            .. (driftProfile is null ? Array.Empty<string>() : ["--drift-profile", driftProfile])];
        await Ok(AgentProcess.RunAgentAsync(build));
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", bundle, "--models-dir", Path.Combine(Directory, "state", "models"),
            "--hardware-id", "x64-dev"));
    }

    /// <summary>Writes agent.json; <paramref name="extra"/> is spliced in as further top-level members.</summary>
    public void WriteConfig(int brokerPort, string extra = "")
    {
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "run"));
        File.WriteAllText(ConfigPath, $$"""
            {
              "deviceId": "press-17",
              "stateDirectory": "{{Directory}}/state",
              "runtimeDirectory": "{{Directory}}/run",
              "mqtt": { "host": "127.0.0.1", "port": {{brokerPort}}, "useTls": false, "keepAlive": "5s" },
              "metrics": { "enabled": true, "port": {{MetricsPort}} },
              "outputs": { "file": "{{OutputsFile}}" },
              "pipeline": { "drift": { "snapshotEveryWindows": 10 } },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": 400 } }{{extra}}
            }
            """);
    }

    public void Start()
    {
        var psi = new ProcessStartInfo(AgentProcess.BuiltAgent)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "run", "--config", ConfigPath },
        };
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Runs a CLI verb with this daemon's config (appended as <c>--config</c>).</summary>
    public Task<AgentProcess.Result> CliAsync(params string[] args) => AgentProcess.RunAgentAsync([.. args, "--config", ConfigPath]);

    /// <summary><c>edgeagent status --json</c>'s agent part, polled until <paramref name="until"/> holds (60 s at most).</summary>
    public async Task<JsonElement> WaitForStatusAsync(Func<JsonElement, bool> until, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var r = await CliAsync("status", "--json");
            last = r.Stdout + r.Stderr;
            if (r.ExitCode == 0)
            {
                var agent = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("agent").Clone();
                if (until(agent)) return agent;
            }
            await Task.Delay(300);
        }
        throw new TimeoutException($"agent status never showed {what}; last: {last}\nagent log:\n{Log}");
    }

    public static long Inference(JsonElement agent, string counter) =>
        agent.TryGetProperty("inference", out var i) && i.TryGetProperty(counter, out var v) ? v.GetInt64() : 0;

    public static long FallbackReason(JsonElement agent, string reason) =>
        agent.TryGetProperty("inference", out var i) && i.GetProperty("fallbackReasons").TryGetProperty(reason, out var v) ? v.GetInt64() : 0;

    public static async Task<AgentProcess.Result> Ok(Task<AgentProcess.Result> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return r;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        _process?.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
