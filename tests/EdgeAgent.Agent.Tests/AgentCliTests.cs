using System.Text.Json;
using EdgeAgent.OnnxFormat;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>The diagnostics verbs of the built <c>edgeagent</c>, run as a child process against real ONNX Runtime.</summary>
public sealed class AgentCliTests : IDisposable
{
    private const string NodeTests = "/usr/share/libonnx-testdata/data/node";
    private static readonly string QLinearMatMul = Path.Combine(NodeTests, "test_qlinearmatmul_2D");
    private static readonly string[] QLinearMatMulInputs =
        ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"];
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] QLinearMatMulArgs() =>
        QLinearMatMulInputs.SelectMany((name, i) => new[] { "--input", $"{name}={QLinearMatMul}/test_data_set_0/input_{i}.pb" }).ToArray();

    [Fact]
    public async Task Version_prints_the_product_version()
    {
        var r = await AgentProcess.RunAgentAsync("--version");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("0.1.0", r.Stdout.Trim());
    }

    [Fact]
    public async Task Inspect_json_reports_contract_opsets_size_and_sha256()
    {
        string model = Path.Combine(QLinearMatMul, "model.onnx");
        var r = await AgentProcess.RunAgentAsync("inspect", "--model", model, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(new FileInfo(model).Length, root.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(model))),
            root.GetProperty("sha256").GetString());
        Assert.Equal(10, root.GetProperty("opsets")[0].GetProperty("version").GetInt64());
        Assert.Equal(QLinearMatMulInputs, root.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal("uint8", root.GetProperty("outputs")[0].GetProperty("dtype").GetString());
        Assert.True(root.GetProperty("runtime").GetProperty("loads").GetBoolean());
        Assert.Equal(1, root.GetProperty("opTypes").GetProperty("QLinearMatMul").GetInt32());
    }

    [Fact]
    public async Task Inspect_of_a_corrupt_file_fails_with_a_one_line_reason()
    {
        string model = Path.Combine(_dir, "corrupt.onnx");
        await File.WriteAllBytesAsync(model, [0x08, 0x07, 0x12, 0xFF, 0xFF, 0xFF, 0x7F, 0x01]);
        var r = await AgentProcess.RunAgentAsync("inspect", "--model", model);
        Assert.Equal(1, r.ExitCode);
        string line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith("edgeagent inspect: ", line);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public async Task Missing_model_file_fails_with_exit_code_1_naming_the_path()
    {
        var r = await AgentProcess.RunAgentAsync("bench", "--model", Path.Combine(_dir, "nope.onnx"), "-n", "10");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("nope.onnx", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public async Task Predict_reproduces_the_backend_test_output_and_writes_npy_and_pb()
    {
        var expected = TensorProtoCodec.ReadFile(Path.Combine(QLinearMatMul, "test_data_set_0", "output_0.pb"));
        var r = await AgentProcess.RunAgentAsync(["predict", "--model", Path.Combine(QLinearMatMul, "model.onnx"), .. QLinearMatMulArgs(),
            "--json", "--output-dir", _dir]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var output = doc.RootElement.GetProperty("outputs")[0];
        Assert.Equal("y", output.GetProperty("name").GetString());
        Assert.Equal(expected.Dims, output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        var values = output.GetProperty("values").EnumerateArray().SelectMany(row => row.EnumerateArray()).Select(v => v.GetByte());
        Assert.Equal(expected.GetData<byte>(), values);
        Assert.True(doc.RootElement.GetProperty("latencyUs").GetDouble() > 0);
        Assert.True(NpyFormat.ReadFile(Path.Combine(_dir, "y.npy")).ContentEquals(expected.WithName("")));

        var pb = await AgentProcess.RunAgentAsync(["predict", "--model", Path.Combine(QLinearMatMul, "model.onnx"), .. QLinearMatMulArgs(),
            "--output-dir", _dir, "--output-format", "pb"]);
        Assert.Equal(0, pb.ExitCode);
        Assert.Equal(expected.GetData<byte>(), TensorProtoCodec.ReadFile(Path.Combine(_dir, "y.pb")).GetData<byte>());
    }

    [Fact]
    public async Task Predict_with_an_unknown_input_name_lists_the_model_inputs()
    {
        var r = await AgentProcess.RunAgentAsync("predict", "--model", Path.Combine(QLinearMatMul, "model.onnx"),
            "--input", $"nope={QLinearMatMul}/test_data_set_0/input_0.pb");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no input 'nope'", r.Stderr);
        Assert.Contains("'a_scale' [1] float32", r.Stderr);
    }

    [Fact]
    public async Task Predict_with_a_missing_input_names_it()
    {
        var r = await AgentProcess.RunAgentAsync("predict", "--model", Path.Combine(QLinearMatMul, "model.onnx"),
            "--input", $"a={QLinearMatMul}/test_data_set_0/input_0.pb");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("missing input(s): 'a_scale'", r.Stderr);
    }

    [Fact]
    public async Task Predict_passes_NaN_through_with_a_warning_and_reads_json_input()
    {
        string model = Path.Combine(NodeTests, "test_relu", "model.onnx");
        var contract = ModelInfo.ParseFile(model).Inputs[0];
        long count = contract.Shape!.Aggregate(1L, (a, d) => a * d.Value!.Value);
        var values = Enumerable.Range(0, (int)count).Select(i => i == 0 ? "\"NaN\"" : (i % 3 - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        string input = Path.Combine(_dir, "x.json");
        await File.WriteAllTextAsync(input, $"{{\"dims\":[{string.Join(',', contract.Shape!.Select(d => d.Value))}],\"data\":[{string.Join(',', values)}]}}");

        var r = await AgentProcess.RunAgentAsync("predict", "--model", model, "--input", input, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("has 1 NaN/Inf value(s)", r.Stderr);
        Assert.Contains("\"NaN\"", r.Stdout);
    }

    [Fact]
    public async Task Bench_json_reports_latency_percentiles_and_zero_managed_bytes_per_inference()
    {
        var r = await AgentProcess.RunAgentAsync("bench", "--model", Path.Combine(NodeTests, "test_relu", "model.onnx"),
            "--iterations", "5000", "--warmup", "500", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(5000, root.GetProperty("iterations").GetInt32());
        double p50 = root.GetProperty("p50Us").GetDouble(), p99 = root.GetProperty("p99Us").GetDouble();
        Assert.True(p50 > 0 && p50 <= p99 && p99 <= root.GetProperty("maxUs").GetDouble());
        Assert.Equal(0.0, root.GetProperty("managedBytesPerInference").GetDouble());
        Assert.True(root.GetProperty("peakRssBytes").GetInt64() >= root.GetProperty("rssBytes").GetInt64());
    }

    [Theory]
    [InlineData("mlp", "input", "[1,64]")]
    [InlineData("cnn", "window", "[1,3,128]")]
    public async Task Make_model_writes_an_int8_model_that_inspect_accepts(string kind, string input, string shape)
    {
        string model = Path.Combine(_dir, kind + ".onnx");
        var make = await AgentProcess.RunAgentAsync("make-model", "--kind", kind, "--output", model);
        Assert.True(make.ExitCode == 0, make.Stderr);
        var r = await AgentProcess.RunAgentAsync("inspect", "--model", model);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"{input}: float32{shape}", r.Stdout);
        Assert.Contains("QuantizeLinear", r.Stdout);
        Assert.Contains("loads in ONNX Runtime", r.Stdout);
    }

    [Fact]
    public async Task Demo_generates_models_checks_them_streams_sensor_windows_and_benches()
    {
        var r = await AgentProcess.RunAgentAsync("demo", "--dir", _dir, "--seconds", "40");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.True(File.Exists(Path.Combine(_dir, "models", "activity-cnn-int8.onnx")));
        Assert.Contains("[3/3] Benchmark", r.Stdout);
        // 40 s at 50 Hz = 2000 samples; windows of 128 with hop 64 → (2000 - 128) / 64 + 1 = 30 windows at most.
        var summary = r.Stdout.Split('\n').Single(l => l.Contains("windows in"));
        int windows = int.Parse(summary.Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(windows, 20, 30);
        Assert.Contains("counted and skipped, never fatal", r.Stdout);
    }

    [Fact]
    public async Task Predict_reshapes_a_flat_json_window_and_names_both_shapes_when_the_count_is_wrong()
    {
        string model = Path.Combine(_dir, "cnn.onnx");
        Assert.Equal(0, (await AgentProcess.RunAgentAsync("make-model", "--kind", "cnn", "--output", model)).ExitCode);
        string flat = Path.Combine(_dir, "flat.json");
        await File.WriteAllTextAsync(flat, "[" + string.Join(',', Enumerable.Repeat("0.5", 384)) + "]");
        var ok = await AgentProcess.RunAgentAsync("predict", "--model", model, "--input", flat, "--json");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        using (var doc = JsonDocument.Parse(ok.Stdout))
            Assert.Equal(4, doc.RootElement.GetProperty("outputs")[0].GetProperty("values")[0].GetArrayLength());

        string shortFile = Path.Combine(_dir, "short.json");
        await File.WriteAllTextAsync(shortFile, "[" + string.Join(',', Enumerable.Repeat("0.5", 383)) + "]");
        var bad = await AgentProcess.RunAgentAsync("predict", "--model", model, "--input", shortFile);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("[1,3,128]", bad.Stderr);
        Assert.Contains("383", bad.Stderr);
    }
}
