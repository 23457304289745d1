using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// Issue 6: the CLI asks the running daemon over its control socket. One real <c>edgeagent run</c> child
/// process (model installed with <c>bundle install</c>, synthetic sensor, a broker port nobody listens on so
/// telemetry piles up in the outbox) serves every query; the not-running case uses a config whose socket
/// nobody listens on.
/// </summary>
public sealed class StatusCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-status-").FullName;
    private string _config = "";
    private Process? _agent;
    private readonly List<Process> _others = [];

    public async Task InitializeAsync()
    {
        string model = Path.Combine(_dir, "cnn.onnx"), bundle = Path.Combine(_dir, "activity-1.bundle");
        await Ok(AgentProcess.RunAgentAsync("make-model", "--kind", "cnn", "--output", model));
        await Ok(AgentProcess.RunAgentAsync("bundle", "build", "--model", model, "--name", "activity", "--version", "1.0.0",
            "--release-counter", "1", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50", "--output", bundle));
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", bundle, "--models-dir", Path.Combine(_dir, "state", "models"),
            "--hardware-id", "x64-dev"));
        _config = WriteConfig("agent.json", "run");
    }

    public async Task DisposeAsync()
    {
        if (_agent is { HasExited: false } agent)
        {
            agent.Kill(entireProcessTree: true);
            await agent.WaitForExitAsync();
        }
        _agent?.Dispose();
        foreach (var other in _others)
        {
            if (!other.HasExited) other.Kill(entireProcessTree: true);
            await other.WaitForExitAsync();
            other.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task<AgentProcess.Result> Ok(Task<AgentProcess.Result> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return r;
    }

    private static int DeadPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private string WriteConfig(string name, string runtime, string state = "state", int? brokerPort = null)
    {
        Directory.CreateDirectory(Path.Combine(_dir, runtime));
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, $$"""
            {
              "deviceId": "press-17",
              "stateDirectory": "{{_dir}}/{{state}}",
              "runtimeDirectory": "{{_dir}}/{{runtime}}",
              "mqtt": { "host": "127.0.0.1", "port": {{brokerPort ?? DeadPort()}}, "useTls": false, "keepAlive": "5s" },
              "outbox": { "awaitHubAck": false },
              "metrics": { "enabled": false },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": 400 } }
            }
            """);
        return path;
    }

    /// <summary>Starts the daemon and polls <c>edgeagent status --json</c> until it serves and has inferred.</summary>
    private static Process StartAgent(string config)
    {
        var psi = new ProcessStartInfo(AgentProcess.BuiltAgent)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "run", "--config", config },
        };
        var process = Process.Start(psi)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Polls a control verb until the agent answers (the socket appears once the host started).</summary>
    private static async Task<AgentProcess.Result> WhenAnsweringAsync(params string[] args)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        AgentProcess.Result r;
        do
        {
            r = await AgentProcess.RunAgentAsync(args);
            if (r.ExitCode == 0) return r;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"the agent did not answer '{string.Join(' ', args)}' within 60 s: {r.Stderr}");
    }

    private async Task<JsonElement> StartAndWaitServingAsync()
    {
        var psi = new ProcessStartInfo(AgentProcess.BuiltAgent)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "run", "--config", _config },
        };
        _agent = Process.Start(psi)!;
        _agent.BeginOutputReadLine();
        _agent.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var r = await AgentProcess.RunAgentAsync("status", "--config", _config, "--json");
            last = r.Stdout + r.Stderr;
            if (r.ExitCode == 0)
            {
                var doc = JsonDocument.Parse(r.Stdout).RootElement.Clone();
                if (doc.GetProperty("host").GetProperty("ready").GetBoolean()
                    && doc.GetProperty("agent").TryGetProperty("inference", out var inf) && inf.GetProperty("windows").GetInt64() > 2
                    && doc.GetProperty("agent").GetProperty("outboxDepth").GetInt64() > 0)
                    return doc;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"the agent did not serve within 60 s; last status: {last}");
    }

    [Fact]
    public async Task Status_models_list_and_telemetry_stats_describe_the_running_agent()
    {
        var status = await StartAndWaitServingAsync();
        var agent = status.GetProperty("agent");
        Assert.Equal("press-17", agent.GetProperty("deviceId").GetString());
        var model = agent.GetProperty("model");
        Assert.Equal("activity", model.GetProperty("name").GetString());
        Assert.Equal("1.0.0", model.GetProperty("version").GetString());
        Assert.Equal("a", model.GetProperty("slot").GetString());
        Assert.True(model.GetProperty("committed").GetBoolean());
        var inference = agent.GetProperty("inference");
        long windows = inference.GetProperty("windows").GetInt64();
        Assert.Equal(windows, inference.GetProperty("local").GetInt64() + inference.GetProperty("cloud").GetInt64() + inference.GetProperty("fallback").GetInt64());
        Assert.Equal(0, inference.GetProperty("badSamples").GetInt64());
        Assert.NotEqual("Connected", agent.GetProperty("mqtt").GetString());
        Assert.True(agent.GetProperty("outboxDiskBytes").GetInt64() > 0);
        // The broker port is dead: the reason is in the status, not only in the journal.
        var mqttError = Assert.Single(agent.GetProperty("lastErrors").EnumerateArray(), e => e.GetProperty("source").GetString() == "mqtt"
            && e.GetProperty("message").GetString()!.StartsWith("broker 127.0.0.1:", StringComparison.Ordinal));
        Assert.True(mqttError.GetProperty("count").GetInt32() >= 1);
        Assert.StartsWith("serving activity 1.0.0", status.GetProperty("host").GetProperty("status").GetString());
        Assert.Equal(_agent!.Id, status.GetProperty("host").GetProperty("processId").GetInt32());

        // Human output: one line per aspect.
        var human = await Ok(AgentProcess.RunAgentAsync("status", "--config", _config));
        Assert.Contains("press-17 READY: serving activity 1.0.0", human.Stdout);
        Assert.Contains("model:      activity 1.0.0 (slot a, committed)", human.Stdout);
        Assert.Contains("watchdog:   not enabled", human.Stdout);
        Assert.Matches(@"error:      \S+ mqtt: broker 127\.0\.0\.1:\d+ not reachable", human.Stdout);
        Assert.Matches(@"inference:  \d+ windows: \d+ local, \d+ cloud, \d+ fallback; 0 bad samples", human.Stdout);

        var models = JsonDocument.Parse((await Ok(AgentProcess.RunAgentAsync("models", "list", "--config", _config, "--json"))).Stdout).RootElement;
        var family = Assert.Single(models.GetProperty("families").EnumerateArray());
        Assert.Equal("activity", family.GetProperty("name").GetString());
        Assert.True(family.GetProperty("installed").GetBoolean());
        Assert.Equal("a", family.GetProperty("activeSlot").GetString());
        Assert.Equal("1.0.0", family.GetProperty("activeVersion").GetString());
        Assert.Equal(1, family.GetProperty("activeReleaseCounter").GetInt64());
        Assert.True(family.GetProperty("committed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, family.GetProperty("previousSlot").ValueKind);
        var modelsHuman = await Ok(AgentProcess.RunAgentAsync("models", "list", "--config", _config));
        Assert.Contains("activity: 1.0.0 in slot a (release 1, committed); previous: none", modelsHuman.Stdout);

        // No broker: what was inferred waits in the outbox, nothing is dropped.
        var stats = JsonDocument.Parse((await Ok(AgentProcess.RunAgentAsync("telemetry", "stats", "--config", _config, "--json"))).Stdout).RootElement;
        Assert.True(stats.GetProperty("pendingEvents").GetProperty("telemetry").GetInt64() > 0, stats.ToString());
        Assert.True(stats.GetProperty("depth").GetInt64() >= stats.GetProperty("pendingEvents").GetProperty("telemetry").GetInt64());
        Assert.True(stats.GetProperty("appendedEvents").GetInt64() > 0);
        Assert.Equal(0, stats.GetProperty("droppedEvents").GetInt64());
        Assert.Equal(0, stats.GetProperty("tombstonesWritten").GetInt64());
        Assert.True(stats.GetProperty("budgetBytes").GetInt64() > 0);
        var statsHuman = await Ok(AgentProcess.RunAgentAsync("telemetry", "stats", "--config", _config));
        Assert.Matches(@"pending:    \d+ events \(.*telemetry [1-9]\d*", statsHuman.Stdout);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("models", "list")]
    [InlineData("telemetry", "stats")]
    public async Task Every_control_verb_says_the_agent_is_not_running_and_how_to_start_it_with_exit_1(params string[] verb)
    {
        string config = WriteConfig("stopped.json", "run-stopped");
        var r = await AgentProcess.RunAgentAsync([.. verb, "--config", config, "--json"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("the agent is not running", line);
        Assert.Contains(Path.Combine(_dir, "run-stopped", "control.sock"), line);
        Assert.Contains("systemctl start edgeagent", line);
        Assert.Contains($"edgeagent run --config {config}", line);
    }

    [Fact]
    public async Task A_socket_file_nobody_listens_on_is_reported_as_not_running()
    {
        string config = WriteConfig("stale.json", "run-stale");
        string socket = Path.Combine(_dir, "run-stale", "control.sock");
        // Bound but not listening: the socket file exists and connecting is refused, as after a crash.
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(socket));
        Assert.True(File.Exists(socket));
        var r = await AgentProcess.RunAgentAsync("status", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("the agent is not running", r.Stderr);
    }

    [Fact]
    public async Task Models_list_shows_the_previous_slot_kept_for_rollback_after_a_second_install()
    {
        string model = Path.Combine(_dir, "cnn.onnx"), bundle = Path.Combine(_dir, "activity-2.bundle");
        await Ok(AgentProcess.RunAgentAsync("bundle", "build", "--model", model, "--name", "activity", "--version", "2.0.0",
            "--release-counter", "2", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50", "--output", bundle));
        string models = Path.Combine(_dir, "state2", "models");
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", Path.Combine(_dir, "activity-1.bundle"), "--models-dir", models, "--hardware-id", "x64-dev"));
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", bundle, "--models-dir", models, "--hardware-id", "x64-dev"));
        string config = WriteConfig("two-slots.json", "run2", "state2");
        _others.Add(StartAgent(config));

        var family = Assert.Single(JsonDocument.Parse((await WhenAnsweringAsync("models", "list", "--config", config, "--json")).Stdout)
            .RootElement.GetProperty("families").EnumerateArray());
        Assert.Equal("b", family.GetProperty("activeSlot").GetString());
        Assert.Equal("2.0.0", family.GetProperty("activeVersion").GetString());
        Assert.Equal(2, family.GetProperty("releaseCounterFloor").GetInt64());
        Assert.Equal("a", family.GetProperty("previousSlot").GetString());
        Assert.Equal("1.0.0", family.GetProperty("previousVersion").GetString());
        var human = await Ok(AgentProcess.RunAgentAsync("models", "list", "--config", config));
        Assert.Contains("activity: 2.0.0 in slot b (release 2, committed); previous: 1.0.0 in slot a", human.Stdout);
    }

    [Fact]
    public async Task An_agent_without_a_model_says_so_in_status_and_models_list()
    {
        string config = WriteConfig("empty.json", "run3", "state3");
        _others.Add(StartAgent(config));
        var status = JsonDocument.Parse((await WhenAnsweringAsync("status", "--config", config, "--json")).Stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, status.GetProperty("agent").GetProperty("model").ValueKind);
        Assert.False(status.GetProperty("agent").TryGetProperty("inference", out _));
        var human = await Ok(AgentProcess.RunAgentAsync("status", "--config", config));
        Assert.Contains("model:      none installed", human.Stdout);
        Assert.Contains("model: no model installed in", human.Stdout);
        var models = await Ok(AgentProcess.RunAgentAsync("models", "list", "--config", config));
        Assert.Contains($"no model installed in {Path.Combine(_dir, "state3", "models")}; install one with 'edgeagent bundle install'", models.Stdout);
    }

    [Fact]
    public async Task Status_with_a_missing_configuration_file_names_the_file_and_exits_2()
    {
        string missing = Path.Combine(_dir, "nope.json");
        var r = await AgentProcess.RunAgentAsync("status", "--config", missing);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(missing, r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task Status_reports_MQTT_connected_and_telemetry_stats_show_the_outbox_draining_to_a_real_broker()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", Path.Combine(_dir, "activity-1.bundle"), "--models-dir",
            Path.Combine(_dir, "state4", "models"), "--hardware-id", "x64-dev"));
        string config = WriteConfig("online.json", "run4", "state4", broker.Port);
        _others.Add(StartAgent(config));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement agent;
        do
        {
            agent = JsonDocument.Parse((await WhenAnsweringAsync("status", "--config", config, "--json")).Stdout).RootElement.GetProperty("agent");
            if (agent.GetProperty("mqtt").GetString() == "Connected") break;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal("Connected", agent.GetProperty("mqtt").GetString());
        Assert.Equal($"127.0.0.1:{broker.Port}", agent.GetProperty("mqttBroker").GetString());
        Assert.DoesNotContain(agent.GetProperty("lastErrors").EnumerateArray(), e => e.GetProperty("source").GetString() == "mqtt");

        // Online, the drainer publishes and acknowledges: appended grows while nothing is dropped.
        JsonElement stats;
        do
        {
            stats = JsonDocument.Parse((await Ok(AgentProcess.RunAgentAsync("telemetry", "stats", "--config", config, "--json"))).Stdout).RootElement;
            if (stats.GetProperty("appendedEvents").GetInt64() > stats.GetProperty("depth").GetInt64()) break;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        Assert.True(stats.GetProperty("appendedEvents").GetInt64() > stats.GetProperty("depth").GetInt64(), stats.ToString());
        Assert.Equal(0, stats.GetProperty("droppedEvents").GetInt64());
    }
}
