using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hub.Provisioning.Fleet;

namespace EdgeAgent.Hub.Provisioning.Tests.Fleet;

/// <summary>The bundle's agent.json is read by the agent's real configuration loader, with no errors.</summary>
public sealed class AgentConfigContractTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgeagent-provcontract-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData(DeviceAuthentication.Certificate)]
    [InlineData(DeviceAuthentication.Password)]
    public async Task Agent_accepts_the_generated_agent_json_fragment(DeviceAuthentication authentication)
    {
        // Files "installed" where the bundle is, so the agent's readable-file checks run for real.
        using FleetProvisioner fleet = await FleetProvisioner.OpenAsync(new ProvisioningOptions
        {
            Directory = _root,
            BrokerHost = "mqtt.example.net",
            DeviceFilesDirectory = Path.Combine(_root, "devices", "pump-7"),
        });
        DeviceBundle bundle = await fleet.AddDeviceAsync("pump-7", authentication);

        // The packaged default agent.json (placeholders refused by the agent) with the fragment laid over it.
        string merged = Path.Combine(_root, "agent.json");
        await File.WriteAllTextAsync(merged, await bundle.MergeIntoAgentConfigAsync(await File.ReadAllTextAsync(PackagedAgentJson()), CancellationToken.None));
        AgentConfigurationResult result = AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = merged,
            ConfigFileRequired = true,
            Environment = new Dictionary<string, string?>(),
        });

        Assert.True(result.IsValid, string.Join("\n", result.Problems));
        Assert.DoesNotContain(result.Problems, p => p.Severity == ConfigProblemSeverity.Error);
        Assert.Equal("pump-7", result.Options!.DeviceId);
        Assert.Equal("mqtt.example.net", result.Options.Mqtt.Host);
        Assert.True(result.Options.Mqtt.UseTls);
        Assert.Equal(bundle.CaCertificatePath, result.Options.Mqtt.CaFile);
        if (authentication == DeviceAuthentication.Certificate)
        {
            Assert.Equal(8883, result.Options.Mqtt.Port);
            Assert.Equal(bundle.CertificatePath, result.Options.Mqtt.CertFile);
            Assert.Equal(bundle.KeyPath, result.Options.Mqtt.KeyFile);
        }
        else
        {
            Assert.Equal(8884, result.Options.Mqtt.Port);
            Assert.Equal("pump-7", result.Options.Mqtt.Username);
            Assert.Equal(bundle.Password, result.Options.Mqtt.Password);
        }

        Assert.Equal(TimeSpan.FromSeconds(30), result.Options.Mqtt.KeepAlive);
    }

    [Fact]
    public async Task The_fragment_alone_is_not_a_whole_agent_configuration()
    {
        using FleetProvisioner fleet = await FleetProvisioner.OpenAsync(new ProvisioningOptions { Directory = _root, BrokerHost = "mqtt.example.net", DeviceFilesDirectory = Path.Combine(_root, "devices", "pump-7") });
        DeviceBundle bundle = await fleet.AddDeviceAsync("pump-7");
        AgentConfigurationResult result = AgentConfiguration.Load(new AgentConfigurationSources { ConfigFile = bundle.AgentConfigPath, ConfigFileRequired = true, Environment = new Dictionary<string, string?>() });
        Assert.Contains(result.Problems, p => p.Severity == ConfigProblemSeverity.Error && p.Path == "sensors");
        Assert.DoesNotContain(result.Problems, p => p.Path.StartsWith("mqtt", StringComparison.OrdinalIgnoreCase) || p.Path.Equals("deviceId", StringComparison.OrdinalIgnoreCase));
    }

    private static string PackagedAgentJson()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "packaging", "config", "agent.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("packaging/config/agent.json not found above " + AppContext.BaseDirectory);
    }
}
