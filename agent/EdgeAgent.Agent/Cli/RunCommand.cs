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
            builder.Services.AddSingleton<AgentService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AgentService>());
            using var host = builder.Build();
            var service = host.Services.GetRequiredService<AgentService>();
            await host.RunAsync(ct);
            // The service failed (BackgroundServiceExceptionBehavior.StopHost): exit non-zero so systemd's
            // Restart=on-failure brings it back (the chaos suite saw exit 0 after a failure); a
            // configuration error found by the service keeps its EX_CONFIG (78).
            if (service.ExecuteTask is { IsFaulted: true } failed)
            {
                Console.Error.WriteLine($"edgeagent run: the service failed: {failed.Exception?.InnerException?.Message}");
                return Environment.ExitCode == AgentConfigurationException.ExitCode ? AgentConfigurationException.ExitCode : 1;
            }
            return CliRunner.Ok;
        });
        return command;
    }
}
