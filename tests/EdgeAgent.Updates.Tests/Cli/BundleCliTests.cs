using System.Diagnostics;
using EdgeAgent.Bundles;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Cli;

/// <summary><c>edgeagent bundle ...</c> as an operator runs it: the built executable as a child process.</summary>
public sealed class BundleCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-bundle-cli-").FullName;

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "edgeagent"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new TimeoutException("edgeagent did not finish"); }
        return (p.ExitCode, stdout.Result, stderr);
    }

    private string ModelFile()
    {
        var path = Path.Combine(_dir, "mlp.onnx");
        File.WriteAllBytes(path, TestModels.V1.OnnxBytes);
        return path;
    }

    private string Build(string version = "1.0.0", string counter = "1")
    {
        var bundle = Path.Combine(_dir, version + ".bundle");
        var r = Run("bundle", "build", "--model", ModelFile(), "--name", "kws", "--version", version, "--release-counter", counter,
            "--hardware-id", "edge-x64-test", "--hardware-id", "rpi4", "--labels", "normal,degraded,fault,unknown", "--golden-count", "4", "-o", bundle);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("target     models/kws/" + version + ".bundle", r.Out);
        return bundle;
    }

    [Fact]
    public void Build_writes_a_bundle_whose_contract_and_golden_vectors_come_from_the_model()
    {
        var bundle = BundleReader.ReadFile(Build());
        Assert.Equal("kws", bundle.Manifest.Name);
        Assert.Equal(["edge-x64-test", "rpi4"], bundle.Manifest.HardwareIds);
        Assert.Equal("input", bundle.Manifest.Inputs.Single().Name);
        Assert.Equal([1L, 64L], bundle.Manifest.Inputs.Single().Shape);
        Assert.Equal(4, bundle.Manifest.GoldenVectors.Vectors.Count);
        Assert.Equal(TestModels.V1.OnnxBytes, bundle.Model);
        // The expected outputs are what ORT computes, so they agree with the exact reference.
        var v = bundle.Manifest.GoldenVectors.Vectors[0];
        var reference = TestModels.V1.Reference.Run(v.Input);
        for (var i = 0; i < 4; i++) Assert.InRange(v.Expected[i], reference[i] - TestModels.V1.ProbabilityTolerance, reference[i] + TestModels.V1.ProbabilityTolerance);
    }

    [Fact]
    public void Inspect_with_validate_runs_the_device_checks_and_reports_them()
    {
        var r = Run("bundle", "inspect", Build(), "--validate", "--hardware-id", "rpi4");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("release    kws 1.0.0   counter 1", r.Out);
        Assert.Contains("PASS", r.Out);
        var json = Run("bundle", "inspect", Build(), "--json");
        Assert.Equal(0, json.Exit);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.Equal(1, doc.RootElement.GetProperty("manifest").GetProperty("releaseCounter").GetInt64());
    }

    [Fact]
    public void Inspect_of_a_truncated_bundle_fails_with_one_line_naming_the_problem()
    {
        var bytes = File.ReadAllBytes(Build());
        var bad = Path.Combine(_dir, "bad.bundle");
        File.WriteAllBytes(bad, bytes[..(bytes.Length / 3)]);
        var r = Run("bundle", "inspect", bad);
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("edgeagent bundle inspect: ", r.Err);
        Assert.Contains("corrupt or truncated", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void Inspect_for_an_unlisted_hardware_id_fails()
    {
        var r = Run("bundle", "inspect", Build(), "--hardware-id", "jetson");
        Assert.Equal(1, r.Exit);
        Assert.Contains("not 'jetson'", r.Err);
    }

    [Fact]
    public void Build_refuses_an_unsafe_version_with_a_clear_message()
    {
        var r = Run("bundle", "build", "--model", ModelFile(), "--name", "kws", "--version", "../evil", "--release-counter", "1",
            "--hardware-id", "x", "-o", Path.Combine(_dir, "e.bundle"));
        Assert.Equal(1, r.Exit);
        Assert.Contains("version '../evil' must be", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "e.bundle")));
    }

    [Fact]
    public void Install_provisions_a_first_model_and_refuses_to_go_back()
    {
        var models = Path.Combine(_dir, "models");
        var first = Run("bundle", "install", Build("1.0.0", "3"), "--models-dir", models, "--hardware-id", "rpi4");
        Assert.True(first.Exit == 0, first.Err);
        Assert.Equal("1.0.0", UpdateManager.OpenActive(Path.Combine(models, "kws"))!.Manifest.Version);
        var older = Run("bundle", "install", Build("0.9.0", "2"), "--models-dir", models, "--hardware-id", "rpi4");
        Assert.Equal(1, older.Exit);
        Assert.Contains("release counters never go back", older.Err);
        Assert.Equal("1.0.0", UpdateManager.OpenActive(Path.Combine(models, "kws"))!.Manifest.Version);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
