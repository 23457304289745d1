using System.Text.Json;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// The agent as it ships: a trimmed, self-contained linux-x64 publish (what <c>./build.sh publish</c>
/// makes, and the closest we get to Native AOT here, DESIGN §3) must start and run real inference. Trim
/// analysis already fails the build on warnings; this proves the trimmed binary works at run time.
/// </summary>
public sealed class PublishedAgentTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("edgeagent-publish-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeAgent.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no EdgeAgent.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task Trimmed_self_contained_agent_starts_and_answers_version_inspect_and_bench()
    {
        string project = Path.Combine(RepositoryRoot(), "agent", "EdgeAgent.Agent", "EdgeAgent.Agent.csproj");
        var publish = await AgentProcess.RunAsync("dotnet", "publish", project, "-c", "Release", "-r", "linux-x64",
            "--self-contained", "-p:PublishTrimmed=true", "-nologo", "-v:q", "-o", _out);
        Assert.True(publish.ExitCode == 0, $"publish failed:\n{publish.Stdout}\n{publish.Stderr}");
        string agent = Path.Combine(_out, "edgeagent");
        Assert.True(File.Exists(Path.Combine(_out, "libonnxruntime.so.1")), "ONNX Runtime library not published next to the agent");
        Assert.False(File.Exists(Path.Combine(_out, "edgeagent.runtimeconfig.json")) &&
                     File.ReadAllText(Path.Combine(_out, "edgeagent.runtimeconfig.json")).Contains("\"framework\""),
            "publish is framework-dependent, expected self-contained");

        var version = await AgentProcess.RunAsync(agent, "--version");
        Assert.True(version.ExitCode == 0, version.Stderr);
        Assert.StartsWith("0.1.0", version.Stdout.Trim());

        string model = "/usr/share/libonnx-testdata/data/node/test_qlinearconv/model.onnx";
        var inspect = await AgentProcess.RunAsync(agent, "inspect", "--model", model, "--json");
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        using (var doc = JsonDocument.Parse(inspect.Stdout))
            Assert.True(doc.RootElement.GetProperty("runtime").GetProperty("loads").GetBoolean());

        var bench = await AgentProcess.RunAsync(agent, "bench", "--model", model, "-n", "2000", "--warmup", "200", "--json");
        Assert.True(bench.ExitCode == 0, bench.Stderr);
        using (var doc = JsonDocument.Parse(bench.Stdout))
        {
            Assert.Equal(2000, doc.RootElement.GetProperty("iterations").GetInt32());
            Assert.Equal(0.0, doc.RootElement.GetProperty("managedBytesPerInference").GetDouble());
        }
    }
}
