using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Agent.Tests;

/// <summary>Runs an <c>edgeagent</c> executable as a child process, as an operator or script would.</summary>
public static class AgentProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The agent built next to this test assembly (the test project references the agent).</summary>
    public static string BuiltAgent => Path.Combine(AppContext.BaseDirectory, "edgeagent");

    /// <summary>Runs <paramref name="executable"/> to completion; killed and a <see cref="TimeoutException"/> after 3 minutes
    /// (a trimmed publish on a loaded machine takes most of that).</summary>
    public static async Task<Result> RunAsync(string executable, params string[] args)
    {
        var r = await ChildProcess.RunAsync(executable, args, timeout: TimeSpan.FromMinutes(3));
        return new Result(r.ExitCode, r.StandardOutput, r.StandardError);
    }

    public static Task<Result> RunAgentAsync(params string[] args) => RunAsync(BuiltAgent, args);
}
