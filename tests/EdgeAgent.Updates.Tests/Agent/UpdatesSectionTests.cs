using EdgeAgent.Agent.Configuration;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Updates.Tests.Agent;

/// <summary>The <c>updates</c> section of agent.json: bound by hand, one clear message per problem.</summary>
public sealed class UpdatesSectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-updcfg-").FullName;

    private string Root()
    {
        var path = Path.Combine(_dir, "root.json");
        File.WriteAllText(path, "{}");
        return path;
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void A_complete_section_binds_every_setting_and_puts_the_metadata_under_the_state_directory()
    {
        var options = UpdatesSection.Bind(Config(
            ("updates:metadataUrl", "https://hub.example/tuf/metadata/"), ("updates:targetBaseUrl", "https://hub.example/tuf/targets/"),
            ("updates:trustedRoot", Root()), ("updates:pollInterval", "10m"), ("updates:pollJitter", "0.1"), ("updates:observeWindow", "2m"),
            ("updates:observeMinCalls", "50"), ("updates:maxErrorRate", "0.05"), ("updates:driftRollback", "true"), ("updates:maxInputPsi", "0.5"),
            ("updates:hardwareId", "pi4")), "/var/lib/edgeagent")!;

        Assert.Equal("/var/lib/edgeagent/tuf", options.MetadataDirectory);
        Assert.Equal(TimeSpan.FromMinutes(10), options.PollInterval);
        Assert.Equal(0.1, options.PollJitter);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Health.Window);
        Assert.Equal(50, options.Health.MinCalls);
        Assert.Equal(0.05, options.Health.MaxErrorRate);
        Assert.Equal(0.5, options.Health.MaxInputPsi);
        Assert.Equal("pi4", options.HardwareId);
    }

    [Fact]
    public void Drift_rollback_is_off_unless_asked_for_and_a_missing_section_means_no_updates()
    {
        var options = UpdatesSection.Bind(Config(("updates:metadataUrl", "http://h/m/"), ("updates:targetBaseUrl", "http://h/t/"), ("updates:trustedRoot", Root())), _dir)!;
        Assert.Null(options.Health.MaxInputPsi);
        Assert.Null(UpdatesSection.Bind(Config(("deviceId", "d")), _dir));
        Assert.Null(UpdatesSection.Bind(Config(("updates:enabled", "false"), ("updates:metadataUrl", "ftp://x")), _dir));
    }

    [Fact]
    public void Every_bad_value_gets_its_own_message_with_its_path()
    {
        var e = Assert.Throws<UpdatesConfigurationException>(() => UpdatesSection.Bind(Config(
            ("updates:metadataUrl", "ftp://hub/tuf"), ("updates:trustedRoot", "relative/root.json"), ("updates:pollInterval", "soon"),
            ("updates:maxErrorRate", "2"), ("updates:observeWindow", "1h"), ("updates:observeMaxWindow", "10m"), ("updates:pollIntreval", "5m")), _dir));

        Assert.Contains(e.Problems, p => p.StartsWith("updates.metadataUrl: 'ftp://hub/tuf' is not an absolute http:// or https:// URL", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.targetBaseUrl: missing", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.trustedRoot: 'relative/root.json' must be an absolute path", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.pollInterval: 'soon' is not a duration", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.maxErrorRate: '2' is not a number between 0 and 1", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.observeMaxWindow: must be at least updates.observeWindow", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.StartsWith("updates.pollIntreval: unknown setting", StringComparison.Ordinal));
        Assert.Equal(7, e.Problems.Count);
    }

    [Fact]
    public void A_trusted_root_that_does_not_exist_is_refused_with_where_to_put_it()
    {
        var problems = UpdatesSection.Validate(Config(("updates:metadataUrl", "http://h/m/"), ("updates:targetBaseUrl", "http://h/t/"),
            ("updates:trustedRoot", Path.Combine(_dir, "missing.json"))), _dir);
        var problem = Assert.Single(problems);
        Assert.Contains("does not exist and", problem);
        Assert.Contains("holds no trusted root yet", problem);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
