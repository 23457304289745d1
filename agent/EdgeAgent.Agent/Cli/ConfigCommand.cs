using System.CommandLine;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Hosting.Configuration;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent config check [--config F] [--set key=value …]</c>: loads the configuration exactly as the
/// service would (file, then <c>EDGEAGENT__</c> environment, then overrides), prints every problem on its
/// own line and the effective configuration with secrets redacted. Exit 0 valid, 1 warnings, 2 errors.
/// </summary>
internal static class ConfigCommand
{
    public static Option<FileInfo?> ConfigOption() => new("--config", "-c")
    {
        Description = $"configuration file (default {AgentOptions.DefaultConfigPath})",
    };

    public static Option<string[]> SetOption() => new("--set")
    {
        Description = "override a setting, e.g. --set mqtt:host=broker.local (same keys as the file, ':' between levels)",
        DefaultValueFactory = _ => [],
    };

    public static AgentConfigurationSources Sources(FileInfo? config, string[] overrides) => new()
    {
        ConfigFile = config?.FullName ?? AgentOptions.DefaultConfigPath,
        ConfigFileRequired = config is not null,
        CommandLine = overrides.Select(o => "--" + o).ToArray(),
    };

    public static Command Create()
    {
        var config = ConfigOption();
        var set = SetOption();
        var check = new Command("check", "Validate the configuration and print the effective settings (secrets redacted)") { config, set };
        CliRunner.SetAction(check, parse =>
        {
            var sources = Sources(parse.GetValue(config), parse.GetValue(set)!);
            var result = AgentConfiguration.Load(sources, SensorsSection.Validate);
            Console.Out.Write(ConfigCheckReport.Format(result, sources.ConfigFile));
            return ConfigCheckReport.ExitCode(result);
        });
        return new Command("config", "Agent configuration") { check };
    }
}
