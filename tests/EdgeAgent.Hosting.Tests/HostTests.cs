using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Hosting.Tests.Configuration;
using EdgeAgent.Hosting.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeAgent.Hosting.Tests;

/// <summary>A stand-in pipeline: reports ready once started, beats its liveness source, drains on stop.</summary>
public sealed class FakePipeline(ServiceStatus status, LivenessMonitor liveness, ILogger<FakePipeline> logger) : BackgroundService
{
    public bool Drained { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var source = liveness.Register("pipeline", TimeSpan.FromMinutes(5));
        logger.LogInformation("Pipeline running model {Model}", "kws");
        status.ReportReady("running: model kws");
        try
        {
            while (true) { source.Beat(); await Task.Delay(50, stoppingToken); }
        }
        catch (OperationCanceledException)
        {
            await Task.Delay(100, CancellationToken.None); // flushing in-flight work
            Drained = true;
        }
    }
}

/// <summary>Whole-host tests; one at a time because one of them signals the test process.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class HostTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private AgentConfigurationSources Sources(string extra = "") => new()
    {
        ConfigFile = _dir.File("agent.json", $$"""
            { "deviceId": "pump-07", "stateDirectory": "{{_dir.Combine("state")}}", "runtimeDirectory": "{{_dir.Combine("run")}}",
              "shutdownTimeout": "7s", "mqtt": { "host": "127.0.0.1", "password": "pw-123", "username": "u" },
              "metrics": { "port": {{FreePort()}} }, "sensors": { "kind": "synthetic" } {{extra}} }
            """),
        ConfigFileRequired = true,
        Environment = new Dictionary<string, string?>(),
    };

    [Fact]
    public async Task The_agent_host_reports_ready_serves_control_and_metrics_and_stops_on_SIGTERM()
    {
        using var systemd = new NotifySocketListener();
        var console = new StringWriter();
        var builder = EdgeAgentHost.CreateBuilder(Sources(), console: TextWriter.Synchronized(console),
            systemd: new SystemdEnvironment(systemd.Address, WatchdogInterval: null));
        builder.Services.AddSingleton<FakePipeline>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FakePipeline>());
        using var host = builder.Build();
        Assert.Equal(TimeSpan.FromSeconds(7), host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

        await host.StartAsync();
        Assert.Equal("READY=1\nSTATUS=running: model kws", (await systemd.ReceiveUntilAsync("READY=1")).Last());

        var options = host.Services.GetRequiredService<AgentOptions>();
        var status = await new ControlClient(options.ControlSocketPath).InvokeAsync(BuiltInCommands.HostStatus, HostingJsonContext.Default.HostStatusReport);
        Assert.True(status.Ready);
        Assert.Equal(["pipeline"], status.LivenessSources);
        var config = await new ControlClient(options.ControlSocketPath).SendAsync(BuiltInCommands.ConfigShow);
        Assert.DoesNotContain("pw-123", config.Result!.Value.GetRawText());

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{options.Metrics.Port}/metrics");
        Assert.Contains("# TYPE edgeagent_inference_latency_seconds histogram", metrics);

        using (var kill = Process.Start("kill", ["-TERM", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        Assert.StartsWith("STOPPING=1", (await systemd.ReceiveUntilAsync("STOPPING=1")).Last());
        await host.WaitForShutdownAsync();
        Assert.True(host.Services.GetRequiredService<FakePipeline>().Drained);
        Assert.False(File.Exists(options.ControlSocketPath));
        await host.StopAsync();
        host.Dispose(); // flushes Serilog

        // journald lines carry <N> priorities; the rolling file has timestamps and levels.
        string lines = console.ToString();
        Assert.Contains("<6>EdgeAgent.Hosting.Tests.FakePipeline: Pipeline running model kws\n", lines);
        Assert.All(lines.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Matches("^<[2-7]>", l));
        string logFile = Assert.Single(Directory.GetFiles(_dir.Combine("state", "log")));
        string log = File.ReadAllText(logFile);
        Assert.Matches(@"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[INF\] EdgeAgent.Hosting.Tests.FakePipeline: Pipeline running model kws", log);
        Assert.DoesNotContain("pw-123", log + lines);
    }

    [Fact]
    public void An_invalid_configuration_stops_the_host_from_being_built_with_every_problem_listed()
    {
        var sources = Sources() with { ConfigFile = _dir.File("bad.json", """{ "mqtt": { "port": 0 }, "sensors": { "kind": "synthetic" } }""") };
        var ex = Assert.Throws<AgentConfigurationException>(() => EdgeAgentHost.CreateBuilder(sources));
        Assert.Equal(["deviceId", "mqtt.host", "mqtt.port"], ex.Problems.Where(p => p.Severity == ConfigProblemSeverity.Error).Select(p => p.Path).Order());
    }

    [Fact]
    public async Task Configuration_warnings_are_logged_at_start()
    {
        var console = new StringWriter();
        var builder = EdgeAgentHost.CreateBuilder(Sources(""", "mystery": 1"""), console: TextWriter.Synchronized(console),
            systemd: new SystemdEnvironment(null, null));
        using var host = builder.Build();
        await host.StartAsync();
        await host.StopAsync();
        host.Dispose();
        Assert.Contains("<4>EdgeAgent.Hosting.StartupReport: Configuration mystery: unknown setting", console.ToString());
    }
}
