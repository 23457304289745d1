using System.CommandLine;
using System.Reflection;
using EdgeAgent.Agent.Cli;

namespace EdgeAgent.Agent;

/// <summary>The <c>edgeagent</c> command line: diagnostics verbs today, the daemon later.</summary>
public static class AgentCli
{
    public static string Version =>
        typeof(AgentCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? "0.0.0";

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("edgeagent: runs quantized ONNX models on a device and keeps them current");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(MakeModelCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(EdgeAgent.Agent.Cli.TufCommand.Create());
        root.Subcommands.Add(BundleCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        var models = StatusCommand.CreateModels();
        models.Subcommands.Add(UpdateCommand.CreateRollback());
        root.Subcommands.Add(models);
        root.Subcommands.Add(UpdateCommand.Create());
        root.Subcommands.Add(StatusCommand.CreateTelemetry());
        root.Subcommands.Add(DriftCommand.Create());
        root.Subcommands.Add(SupportBundleCommand.Create());
        return await root.Parse(args).InvokeAsync();
    }
}
