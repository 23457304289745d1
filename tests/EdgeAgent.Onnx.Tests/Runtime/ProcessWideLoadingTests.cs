using System.Diagnostics;

namespace EdgeAgent.Onnx.Tests.Runtime;

/// <summary>
/// The process-wide load (<see cref="OnnxRuntime.EnsureLoaded"/> with the default search) in a child process whose
/// executable directory has no <c>libonnxruntime.so.1</c>, so this test process's loaded library is not disturbed.
/// </summary>
public sealed class ProcessWideLoadingTests
{
    [Fact]
    public void Agent_process_without_the_library_exits_with_every_searched_path_in_the_message()
    {
        string app = CopyAppWithoutLibrary();

        var (exit, stdout, stderr) = RunProbe(app, ortPath: "/nonexistent/ort/libonnxruntime.so.1");

        Assert.True(exit == ProbeProgram.NotLoaded, $"exit {exit}; stdout: {stdout}; stderr: {stderr}");
        Assert.Contains($"next to the executable: {Path.Combine(app, "libonnxruntime.so.1")} (does not exist)", stderr);
        Assert.Contains("EDGEAGENT_ORT_PATH=/nonexistent/ort/libonnxruntime.so.1: /nonexistent/ort/libonnxruntime.so.1 (does not exist)", stderr);
        Assert.Contains("system loader 'libonnxruntime.so.1' (cannot be loaded:", stderr);
        Assert.Contains("set EDGEAGENT_ORT_PATH to the library file or its directory", stderr);
    }

    [Fact]
    public void Agent_process_finds_the_library_through_EDGEAGENT_ORT_PATH()
    {
        string app = CopyAppWithoutLibrary();

        var (exit, stdout, stderr) = RunProbe(app, ortPath: AppContext.BaseDirectory);

        Assert.True(exit == ProbeProgram.Loaded, $"exit {exit}; stdout: {stdout}; stderr: {stderr}");
        Assert.Contains("loaded ONNX Runtime 1.30.0", stdout);
        Assert.Contains($"(EDGEAGENT_ORT_PATH={AppContext.BaseDirectory}", stdout);
    }

    /// <summary>The probe program's files (this assembly, the two libraries, the runtime config) without the native library.</summary>
    private static string CopyAppWithoutLibrary()
    {
        string dir = Directory.CreateTempSubdirectory("edgeagent-probe").FullName;
        foreach (string file in new[]
                 {
                     "EdgeAgent.Onnx.Tests.dll", "EdgeAgent.Onnx.dll", "EdgeAgent.OnnxFormat.dll",
                     "EdgeAgent.Onnx.Tests.runtimeconfig.json",
                 })
            File.Copy(Path.Combine(AppContext.BaseDirectory, file), Path.Combine(dir, file));
        return dir;
    }

    private static (int Exit, string Stdout, string Stderr) RunProbe(string app, string ortPath)
    {
        string dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(app, "EdgeAgent.Onnx.Tests.dll"));
        start.ArgumentList.Add("probe-ort");
        start.Environment["EDGEAGENT_ORT_PATH"] = ortPath;
        start.Environment.Remove("LD_LIBRARY_PATH"); // the system loader must not see the test copy
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the probe process did not exit within 60 s");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
