using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Tests.Support;

namespace EdgeAgent.Hosting.Tests.Configuration;

public sealed class AgentConfigurationTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    public void Dispose() => _dir.Dispose();

    private const string Minimal = """
        { "deviceId": "pump-07", "mqtt": { "host": "broker.example" }, "sensors": { "kind": "synthetic" } }
        """;

    private AgentConfigurationResult Load(string json, IReadOnlyDictionary<string, string?>? env = null, string[]? args = null,
        AgentOptionsBinder.SectionValidator? sensors = null) =>
        AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = _dir.File("agent.json", json),
            ConfigFileRequired = true,
            Environment = env ?? NoEnvironment,
            CommandLine = args ?? [],
        }, sensors);

    private static IEnumerable<ConfigProblem> Errors(AgentConfigurationResult r) => r.Problems.Where(p => p.Severity == ConfigProblemSeverity.Error);

    [Fact]
    public void Minimal_file_gets_the_documented_defaults()
    {
        var r = Load(Minimal);
        Assert.Empty(Errors(r));
        var o = r.GetOptionsOrThrow();
        Assert.Equal("pump-07", o.DeviceId);
        Assert.Equal("/var/lib/edgeagent", o.StateDirectory);
        Assert.Equal("/run/edgeagent", o.RuntimeDirectory);
        Assert.Equal("/var/lib/edgeagent/models", o.ModelStoreDirectory);
        Assert.Equal("/run/edgeagent/control.sock", o.ControlSocketPath);
        Assert.Equal("/var/lib/edgeagent/log/agent.log", o.Logging.FilePath);
        Assert.Equal("pump-07", o.Mqtt.ClientId);
        Assert.Equal(8883, o.Mqtt.Port);
        Assert.True(o.Mqtt.UseTls);
        Assert.Equal(TimeSpan.FromSeconds(30), o.Mqtt.KeepAlive);
        Assert.Equal("127.0.0.1", o.Metrics.Bind);
        Assert.Equal(64L * 1024 * 1024, o.Outbox.BudgetBytes);
        Assert.Equal("synthetic", o.Sensors!["kind"]);
    }

    [Fact]
    public void Units_are_accepted_for_sizes_and_durations()
    {
        var o = Load("""
            { "deviceId": "d1", "mqtt": { "host": "10.0.0.2", "useTls": false, "keepAlive": "2m" }, "sensors": { "kind": "synthetic" },
              "outbox": { "budgetBytes": "256MiB", "groupCommitWindow": "20ms" }, "logging": { "fileSizeLimitBytes": "5MB", "level": "debug" },
              "shutdownTimeout": "00:00:45" }
            """).GetOptionsOrThrow();
        Assert.Equal(1883, o.Mqtt.Port);
        Assert.Equal(TimeSpan.FromMinutes(2), o.Mqtt.KeepAlive);
        Assert.Equal(256L * 1024 * 1024, o.Outbox.BudgetBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(20), o.Outbox.GroupCommitWindow);
        Assert.Equal(5_000_000, o.Logging.FileSizeLimitBytes);
        Assert.Equal(Serilog.Events.LogEventLevel.Debug, o.Logging.Level);
        Assert.Equal(TimeSpan.FromSeconds(45), o.ShutdownTimeout);
    }

    [Fact]
    public void Every_bad_value_gets_its_own_message_with_its_path()
    {
        var r = Load("""
            { "stateDirectory": "var/lib/edgeagent",
              "mqtt": { "port": "abc", "keepAlive": "forever", "certFile": "/nonexistent/client.pem" },
              "metrics": { "bind": "localhost", "port": 70000 },
              "outbox": { "budgetBytes": "12 parsecs" },
              "logging": { "level": "chatty" },
              "sensors": { "kind": "synthetic" } }
            """);
        Assert.False(r.IsValid);
        var errors = Errors(r).ToList();
        string[] expectedPaths = ["deviceId", "stateDirectory", "mqtt.host", "mqtt.port", "mqtt.certFile", "mqtt.keyFile", "mqtt.keepAlive",
            "outbox.budgetBytes", "metrics.port", "metrics.bind", "logging.level"];
        Assert.Equal(expectedPaths.Order(), errors.Select(e => e.Path).Order());
        Assert.Contains(errors, e => e.Path == "mqtt.port" && e.Message.Contains("'abc'") && e.Message.Contains("1 and 65535"));
        Assert.Contains(errors, e => e.Path == "mqtt.certFile" && e.Message.Contains("does not exist"));
        Assert.Contains(errors, e => e.Path == "logging.level" && e.Message.Contains("Information"));

        var ex = Assert.Throws<AgentConfigurationException>(r.GetOptionsOrThrow);
        Assert.StartsWith($"the configuration has {expectedPaths.Length} problems:", ex.Message);
        Assert.Equal(expectedPaths.Length + 1, ex.Message.Split(Environment.NewLine).Length);
    }

    [Fact]
    public void Malformed_json_is_one_clear_problem_naming_the_file()
    {
        var r = Load("{ \"deviceId\": \"d1\", ");
        var problem = Assert.Single(r.Problems);
        Assert.Equal(ConfigProblemSeverity.Error, problem.Severity);
        Assert.Contains("agent.json is not valid JSON", problem.Message);
        Assert.Null(r.Options);
    }

    [Fact]
    public void A_named_config_file_that_does_not_exist_is_an_error()
    {
        var r = AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = _dir.Combine("missing.json"), ConfigFileRequired = true, Environment = NoEnvironment,
        });
        var problem = Assert.Single(r.Problems);
        Assert.Contains("missing.json does not exist", problem.Message);
    }

    [Fact]
    public void Without_the_default_file_environment_alone_can_configure_the_agent()
    {
        var r = AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = _dir.Combine("absent-default.json"),
            Environment = new Dictionary<string, string?>
            {
                ["EDGEAGENT__DEVICEID"] = "env-device", ["EDGEAGENT__MQTT__HOST"] = "broker", ["EDGEAGENT__SENSORS__KIND"] = "synthetic",
                ["OTHER__DEVICEID"] = "ignored",
            },
        });
        Assert.True(r.IsValid);
        Assert.Equal("env-device", r.Options!.DeviceId);
        Assert.Contains(r.Problems, p => p.Severity == ConfigProblemSeverity.Warning && p.Message.Contains("does not exist"));
    }

    [Fact]
    public void Environment_overrides_the_file_and_the_command_line_overrides_both()
    {
        var env = new Dictionary<string, string?> { ["EDGEAGENT__MQTT__HOST"] = "env-broker", ["EDGEAGENT__MQTT__PORT"] = "1884", ["edgeagent__metrics__port"] = "9500" };
        var o = Load(Minimal, env, ["--mqtt:port=1885"]).GetOptionsOrThrow();
        Assert.Equal("env-broker", o.Mqtt.Host);
        Assert.Equal(1885, o.Mqtt.Port);
        Assert.Equal(9500, o.Metrics.Port);
    }

    [Fact]
    public void Unknown_settings_are_warnings_that_name_the_known_ones()
    {
        var r = Load("""{ "deviceId": "d1", "mqtt": { "host": "b", "hots": "typo" }, "sensors": { "kind": "synthetic" } }""");
        Assert.True(r.IsValid);
        var w = Assert.Single(r.Problems);
        Assert.Equal(ConfigProblemSeverity.Warning, w.Severity);
        Assert.Equal("mqtt.hots", w.Path);
        Assert.Contains("host", w.Message);
    }

    [Fact]
    public void Sensor_problems_from_the_sensor_library_keep_their_paths()
    {
        var r = Load("""{ "deviceId": "d1", "mqtt": { "host": "b" }, "sensors": { "kind": "gpoi" } }""",
            sensors: s => [$"sensors.kind: '{s["kind"]}' is not one of gpio, iio", "stream section is odd"]);
        var errors = Errors(r).ToList();
        Assert.Equal(2, errors.Count);
        Assert.Equal("sensors.kind", errors[0].Path);
        Assert.Equal("'gpoi' is not one of gpio, iio", errors[0].Message);
        Assert.Equal("sensors", errors[1].Path);
    }

    [Fact]
    public void A_missing_sensors_section_is_an_error()
    {
        var r = Load("""{ "deviceId": "d1", "mqtt": { "host": "b" } }""");
        Assert.Equal("sensors", Assert.Single(Errors(r)).Path);
    }

    [Fact]
    public void Invalid_device_ids_and_overlong_socket_paths_are_refused()
    {
        var r = Load($$"""{ "deviceId": "pump 7/#", "controlSocketPath": "/run/{{new string('x', 120)}}.sock", "mqtt": { "host": "b" }, "sensors": { "kind": "synthetic" } }""");
        Assert.Equal(["controlSocketPath", "deviceId"], Errors(r).Select(e => e.Path).Order());
    }

    [Fact]
    public void Password_without_username_is_an_error_and_clear_text_password_a_warning()
    {
        var r = Load("""{ "deviceId": "d1", "mqtt": { "host": "b", "useTls": false, "password": "p" }, "sensors": { "kind": "synthetic" } }""");
        Assert.Equal("mqtt.username", Assert.Single(Errors(r)).Path);
        Assert.Contains(r.Problems, p => p is { Severity: ConfigProblemSeverity.Warning, Path: "mqtt.password" });
    }

    [Fact]
    public void Effective_configuration_redacts_secrets_and_keeps_sensor_arrays()
    {
        var o = Load("""
            { "deviceId": "d1", "mqtt": { "host": "b", "username": "dev", "password": "hunter2" },
              "sensors": { "kind": "gpio", "gpio": { "lines": [ { "offset": 17 }, { "offset": 18 } ] }, "socket": { "token": "s3cr3t" } } }
            """).GetOptionsOrThrow();
        string json = EffectiveConfigRenderer.Render(o);
        Assert.DoesNotContain("hunter2", json);
        Assert.DoesNotContain("s3cr3t", json);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(EffectiveConfigRenderer.Redacted, root.GetProperty("mqtt").GetProperty("password").GetString());
        Assert.Equal("dev", root.GetProperty("mqtt").GetProperty("username").GetString());
        Assert.Equal(2, root.GetProperty("sensors").GetProperty("gpio").GetProperty("lines").GetArrayLength());
        Assert.Equal("/run/edgeagent/control.sock", root.GetProperty("controlSocketPath").GetString());
    }
}

/// <summary>Reads the real process environment, so it lives alone in its own collection.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class ProcessEnvironmentTests
{
    [Fact]
    public void EDGEAGENT_variables_of_the_process_environment_override_the_file()
    {
        using var dir = new TempDirectory();
        Environment.SetEnvironmentVariable("EDGEAGENT__MQTT__KEEPALIVE", "45");
        try
        {
            var o = AgentConfiguration.Load(new AgentConfigurationSources
            {
                ConfigFile = dir.File("agent.json", """{ "deviceId": "d1", "mqtt": { "host": "b", "keepAlive": 10 }, "sensors": { "kind": "synthetic" } }"""),
            }).GetOptionsOrThrow();
            Assert.Equal(TimeSpan.FromSeconds(45), o.Mqtt.KeepAlive);
        }
        finally
        {
            Environment.SetEnvironmentVariable("EDGEAGENT__MQTT__KEEPALIVE", null);
        }
    }
}

[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

public sealed class ConfigCheckReportTests
{
    [Fact]
    public void An_invalid_configuration_lists_errors_first_and_shows_what_was_read_without_secrets()
    {
        using var dir = new TempDirectory();
        string file = dir.File("agent.json", """{ "mqtt": { "host": "b", "password": "pw-9", "username": "u", "extra": 1 }, "sensors": { "kind": "synthetic" } }""");
        var result = AgentConfiguration.Load(new AgentConfigurationSources { ConfigFile = file, ConfigFileRequired = true, Environment = new Dictionary<string, string?>() });
        string text = ConfigCheckReport.Format(result, file);
        var lines = text.Split('\n');
        Assert.Equal($"{file}: 1 error, 1 warning", lines[0]);
        Assert.StartsWith("  error: deviceId: missing", lines[1]);
        Assert.StartsWith("  warning: mqtt.extra: unknown setting", lines[2]);
        Assert.Contains("configuration as read (secrets redacted):", text);
        Assert.DoesNotContain("pw-9", text);
        Assert.Equal(2, ConfigCheckReport.ExitCode(result));
    }

    [Fact]
    public void A_valid_configuration_prints_the_effective_values()
    {
        using var dir = new TempDirectory();
        string file = dir.File("agent.json", """{ "deviceId": "d1", "mqtt": { "host": "b" }, "sensors": { "kind": "synthetic" } }""");
        var result = AgentConfiguration.Load(new AgentConfigurationSources { ConfigFile = file, ConfigFileRequired = true, Environment = new Dictionary<string, string?>() });
        string text = ConfigCheckReport.Format(result, file);
        Assert.StartsWith($"{file}: valid\n", text);
        Assert.Contains("\"controlSocketPath\": \"/run/edgeagent/control.sock\"", text);
        Assert.Equal(0, ConfigCheckReport.ExitCode(result));
    }
}
