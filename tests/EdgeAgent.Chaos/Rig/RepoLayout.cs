namespace EdgeAgent.Chaos.Rig;

/// <summary>
/// Finds the executables the suite runs as child processes (built by the project references of
/// EdgeAgent.Chaos): the agent apphost, the hub and the update crash runner, in the same
/// configuration and target framework as this assembly.
/// </summary>
public static class RepoLayout
{
    private static readonly Lazy<(string Root, string Configuration, string Tfm)> Located = new(Locate);

    public static string Root => Located.Value.Root;

    public static string AgentExecutable => Built(Path.Combine("agent", "EdgeAgent.Agent"), "edgeagent");

    public static string HubDll => Built(Path.Combine("cloud-hub", "EdgeAgent.Hub"), "edgehub.dll");

    public static string CrashRunnerDll => Built(Path.Combine("tests", "EdgeAgent.Updates.CrashRunner"), "EdgeAgent.Updates.CrashRunner.dll");

    private static string Built(string project, string file)
    {
        var (root, configuration, tfm) = Located.Value;
        var path = Path.Combine(root, project, "bin", configuration, tfm, file);
        return File.Exists(path) ? path : throw new FileNotFoundException(
            $"{path} is not built; build tests/EdgeAgent.Chaos (its project references build the agent, the hub and the crash runner) in {configuration}");
    }

    private static (string, string, string) Locate()
    {
        // bin/<Configuration>/<tfm>/ of EdgeAgent.Chaos or of the test project referencing it.
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var tfm = baseDir.Name;
        var configuration = baseDir.Parent?.Name ?? "Release";
        for (var d = baseDir; d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EdgeAgent.sln"))) return (d.FullName, configuration, tfm);
        throw new DirectoryNotFoundException($"no EdgeAgent.sln above {baseDir.FullName}: run the suite from its build output inside the repository");
    }
}
