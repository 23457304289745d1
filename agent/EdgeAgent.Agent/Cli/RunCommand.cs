using System.CommandLine;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Agent.Service;
using EdgeAgent.Hosting;
using EdgeAgent.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent run</c>: the service (what the systemd unit starts). Configuration errors print one line
/// per problem and exit with 78 (EX_CONFIG), which the unit does not restart on.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var set = ConfigCommand.SetOption();
        var command = new Command("run", "Run the agent service (systemd Type=notify)") { config, set };
        command.SetAction(async (parse, ct) =>
        {
            HostApplicationBuilder builder;
            try
            {
                builder = EdgeAgentHost.CreateBuilder(ConfigCommand.Sources(parse.GetValue(config), parse.GetValue(set)!), SensorsSection.Validate);
            }
            catch (AgentConfigurationException e)
            {
                Console.Error.WriteLine($"edgeagent run: {e.Message}");
                return AgentConfigurationException.ExitCode;
            }
            builder.Services.AddHostedService<AgentService>();
            using var host = builder.Build();
            await host.RunAsync(ct);
            return CliRunner.Ok;
        });
        return command;
    }
}
