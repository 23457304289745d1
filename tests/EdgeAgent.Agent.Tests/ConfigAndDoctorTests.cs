using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary><c>edgeagent config check</c> and <c>edgeagent doctor</c> on a real configuration file.</summary>
public sealed class ConfigAndDoctorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteConfig(int brokerPort, string sensors = """{ "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": 50 } }""")
    {
        Directory.CreateDirectory(Path.Combine(_dir, "state"));
        Directory.CreateDirectory(Path.Combine(_dir, "run"));
        string path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, $$"""
            {
              "deviceId": "press-17",
              "stateDirectory": "{{_dir}}/state",
              "runtimeDirectory": "{{_dir}}/run",
              "mqtt": { "host": "127.0.0.1", "port": {{brokerPort}}, "useTls": false, "username": "press-17", "password": "s3cret-pw" },
              "sensors": {{sensors}}
            }
            """);
        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Config_check_prints_the_effective_configuration_with_the_password_redacted()
    {
        var r = await AgentProcess.RunAgentAsync("config", "check", "--config", WriteConfig(1883));
        Assert.Equal(1, r.ExitCode); // valid, with the clear-text password warning
        Assert.Contains("valid, 1 warning", r.Stdout);
        Assert.Contains("\"deviceId\": \"press-17\"", r.Stdout);
        Assert.DoesNotContain("s3cret-pw", r.Stdout);
    }

    [Fact]
    public async Task Config_check_names_each_problem_by_its_path_including_the_sensor_section_and_overrides()
    {
        var r = await AgentProcess.RunAgentAsync("config", "check", "--config", WriteConfig(1883), "--set", "sensors:kind=gpoi",
            "--set", "mqtt:port=http");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("sensors.kind: 'gpoi' is not one of", r.Stdout);
        Assert.Contains("mqtt.port:", r.Stdout);
        Assert.DoesNotContain("s3cret-pw", r.Stdout);
    }

    [Fact]
    public async Task Config_check_of_a_missing_file_given_explicitly_is_an_error()
    {
        var r = await AgentProcess.RunAgentAsync("config", "check", "--config", Path.Combine(_dir, "nope.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nope.json", r.Stdout);
    }

    [Fact]
    public async Task Doctor_passes_the_runtime_and_directories_and_fails_an_unreachable_broker_with_a_fix()
    {
        var r = await AgentProcess.RunAgentAsync("doctor", "--config", WriteConfig(FreePort()), "--json");
        Assert.Equal(2, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("check").GetString()!, c => c);
        Assert.Equal("fail", doc.RootElement.GetProperty("overall").GetString());
        Assert.Equal("ok", checks["onnxruntime"].GetProperty("status").GetString());
        Assert.Contains("1.30.0", checks["onnxruntime"].GetProperty("message").GetString());
        Assert.Equal("ok", checks["state-dir"].GetProperty("status").GetString());
        Assert.Equal("fail", checks["broker"].GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(checks["broker"].GetProperty("fix").GetString()));
    }

    [Fact]
    public async Task Doctor_checks_the_outbox_database_integrity_and_reports_corruption()
    {
        string config = WriteConfig(FreePort());
        await File.WriteAllBytesAsync(Path.Combine(_dir, "state", "outbox.db"),
            [.. "SQLite format 3\0"u8.ToArray(), .. Enumerable.Repeat((byte)0xAB, 4096)]);
        var r = await AgentProcess.RunAgentAsync("doctor", "--config", config, "--json");
        using var doc = JsonDocument.Parse(r.Stdout);
        var sqlite = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("check").GetString()!.Contains("sqlite") || c.GetProperty("check").GetString()!.Contains("outbox"));
        Assert.Equal("fail", sqlite.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Config_check_reports_each_cloud_and_outputs_problem_on_its_own_line()
    {
        string config = WriteConfig(1883);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"sensors\"", """
            "cloud": { "timeout": "soon", "requestsPerSecond": -1, "dailyBudget": "lots", "circuit": { "minimumThroughput": 1, "failureRatio": 2 } },
              "outputs": { "file": "relative.jsonl", "mqtt": { "topic": "plant/+/result", "qos": 2 }, "gpio": { "valueFile": "/nonexistent-dir/value" } },
              "pipeline": { "outOfDistributionThreshold": 3, "drift": { "snapshotEveryWindows": 0 } },
              "sensors"
            """));
        var r = await AgentProcess.RunAgentAsync("config", "check", "--config", config);
        Assert.Equal(2, r.ExitCode);
        foreach (string path in new[] { "cloud.timeout", "cloud.requestsPerSecond", "cloud.dailyBudget", "cloud.circuit.minimumThroughput",
                     "cloud.circuit.failureRatio", "outputs.file", "outputs.mqtt.topic", "outputs.mqtt.qos", "outputs.gpio.valueFile",
                     "outputs.gpio.activeLabels", "pipeline.outOfDistributionThreshold", "pipeline.drift.snapshotEveryWindows" })
            Assert.Single(r.Stdout.Split('\n'), l => l.Contains(path + ":", StringComparison.Ordinal));
        Assert.Contains("'plant/+/result' is not a topic name", r.Stdout);
        Assert.Contains("directory '/nonexistent-dir' does not exist", r.Stdout);
    }

    [Fact]
    public async Task Config_check_shows_the_cloud_and_outputs_sections_with_their_defaults()
    {
        var r = await AgentProcess.RunAgentAsync("config", "check", "--config", WriteConfig(1883));
        Assert.Contains("\"cloud\": {", r.Stdout);
        Assert.Contains("\"timeout\": \"500ms\"", r.Stdout);
        Assert.Contains("\"dailyBudget\": 10000", r.Stdout);
        Assert.Contains("\"outputs\": {", r.Stdout);
    }

    [Fact]
    public async Task Doctor_names_the_config_file_it_was_given_in_the_fix_for_a_config_problem()
    {
        string config = WriteConfig(FreePort());
        var r = await AgentProcess.RunAgentAsync("doctor", "--config", config, "--json");
        using var doc = JsonDocument.Parse(r.Stdout);
        var check = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("check").GetString() == "config");
        Assert.Equal("warn", check.GetProperty("status").GetString());   // the clear-text password warning
        string fix = check.GetProperty("fix").GetString()!;
        Assert.Contains(config, fix);
        Assert.DoesNotContain("/etc/edgeagent/agent.json", fix);
    }
}
