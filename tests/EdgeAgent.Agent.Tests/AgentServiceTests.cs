using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using EdgeAgent.Mqtt;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// The daemon as systemd runs it: <c>edgeagent run</c> as a child process with a real NOTIFY_SOCKET, a
/// model installed through <c>edgeagent bundle install</c>, the synthetic sensor, and a real Mosquitto.
/// </summary>
public sealed class AgentServiceTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-service-").FullName;
    private Socket _notify = null!;
    private readonly ConcurrentQueue<string> _datagrams = new();
    private Task _notifyLoop = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _notify.Bind(new UnixDomainSocketEndPoint(Path.Combine(_dir, "notify.sock")));
        _notifyLoop = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (true)
            {
                int n;
                try { n = await _notify.ReceiveAsync(buffer, SocketFlags.None); } catch (Exception) { return; }
                _datagrams.Enqueue(Encoding.UTF8.GetString(buffer, 0, n));
            }
        });

        string model = Path.Combine(_dir, "cnn.onnx"), bundle = Path.Combine(_dir, "activity-1.bundle");
        await Ok(AgentProcess.RunAgentAsync("make-model", "--kind", "cnn", "--output", model));
        await Ok(AgentProcess.RunAgentAsync("bundle", "build", "--model", model, "--name", "activity", "--version", "1.0.0",
            "--release-counter", "1", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50", "--output", bundle));
        await Ok(AgentProcess.RunAgentAsync("bundle", "install", bundle, "--models-dir", Path.Combine(_dir, "state", "models"),
            "--hardware-id", "x64-dev"));
    }

    public async Task DisposeAsync()
    {
        _notify.Dispose();
        await _notifyLoop;
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task Ok(Task<AgentProcess.Result> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
    }

    private string WriteConfig(int brokerPort)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "run"));
        string path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, $$"""
            {
              "deviceId": "press-17",
              "stateDirectory": "{{_dir}}/state",
              "runtimeDirectory": "{{_dir}}/run",
              "mqtt": { "host": "127.0.0.1", "port": {{brokerPort}}, "useTls": false, "keepAlive": "5s" },
              "metrics": { "enabled": false },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": 400 } }
            }
            """);
        return path;
    }

    private Process StartAgent(string config)
    {
        var psi = new ProcessStartInfo(AgentProcess.BuiltAgent)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "run", "--config", config },
        };
        psi.Environment["NOTIFY_SOCKET"] = Path.Combine(_dir, "notify.sock");
        psi.Environment["WATCHDOG_USEC"] = "2000000";
        var process = Process.Start(psi)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<string> WaitForDatagramAsync(string contains, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_datagrams.FirstOrDefault(d => d.Contains(contains, StringComparison.Ordinal)) is { } found) return found;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no '{contains}' datagram in {timeout.TotalSeconds} s; got: {string.Join(" / ", _datagrams)}");
    }

    [Fact]
    public async Task Run_serves_the_installed_model_reports_ready_feeds_the_watchdog_drains_telemetry_and_stops_on_SIGTERM()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var batches = new ConcurrentBag<TelemetryBatch>();
        await using var hub = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "hub" });
        hub.MessageHandler = (m, _) =>
        {
            batches.Add(TelemetryBatchDecoder.Decode(m.Payload.Span));
            return ValueTask.CompletedTask;
        };
        await hub.ConnectAsync();
        await hub.SubscribeAsync("edgeagent/v1/press-17/#");

        using var agent = StartAgent(WriteConfig(broker.Port));
        try
        {
            string ready = await WaitForDatagramAsync("READY=1", TimeSpan.FromSeconds(60));
            Assert.Contains("STATUS=serving activity 1.0.0", ready);
            _datagrams.Clear();
            await WaitForDatagramAsync("WATCHDOG=1", TimeSpan.FromSeconds(10));

            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!batches.Any(b => b.Stream == "telemetry" && b.Events.Count > 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
            var telemetry = batches.Where(b => b.Stream == "telemetry").SelectMany(b => b.Events).ToList();
            Assert.NotEmpty(telemetry);

            ChildProcess.Signal(agent.Id, "TERM");
            await WaitForDatagramAsync("STOPPING=1", TimeSpan.FromSeconds(20));
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await agent.WaitForExitAsync(exit.Token);
            Assert.Equal(0, agent.ExitCode);
        }
        finally
        {
            if (!agent.HasExited) agent.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Offline_cold_start_serves_the_last_committed_model_with_no_broker_at_all()
    {
        int deadPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            deadPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var agent = StartAgent(WriteConfig(deadPort));
        try
        {
            string ready = await WaitForDatagramAsync("READY=1", TimeSpan.FromSeconds(60));
            Assert.Contains("serving activity 1.0.0", ready);
            ChildProcess.Signal(agent.Id, "TERM");
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await agent.WaitForExitAsync(exit.Token);
            Assert.Equal(0, agent.ExitCode);
        }
        finally
        {
            if (!agent.HasExited) agent.Kill(entireProcessTree: true);
        }
        // What it inferred while offline is kept for later: the outbox holds the telemetry.
        Assert.True(new FileInfo(Path.Combine(_dir, "state", "outbox.db")).Length > 0);
    }

    [Fact]
    public async Task Run_with_an_invalid_configuration_exits_78_with_one_line_per_problem()
    {
        string config = WriteConfig(1883);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"synthetic\", \"synthetic\"", "\"gpoi\", \"synthetic\""));
        var r = await AgentProcess.RunAgentAsync("run", "--config", config);
        Assert.Equal(78, r.ExitCode);
        Assert.Contains("sensors.kind", r.Stderr);
    }
}
