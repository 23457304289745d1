using System.Diagnostics;

namespace EdgeAgent.Agent.Tests;

/// <summary>Runs an <c>edgeagent</c> executable as a child process, as an operator or script would.</summary>
internal static class AgentProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The agent built next to this test assembly (the test project references the agent).</summary>
    public static string BuiltAgent => Path.Combine(AppContext.BaseDirectory, "edgeagent");

    public static async Task<Result> RunAsync(string executable, params string[] args)
    {
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static Task<Result> RunAgentAsync(params string[] args) => RunAsync(BuiltAgent, args);
}
