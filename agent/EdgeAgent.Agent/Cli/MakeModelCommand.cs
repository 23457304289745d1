using System.CommandLine;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent make-model --kind mlp|cnn --output F</c>: writes one of the generated INT8 QDQ demo models
/// (no weights can be downloaded, so the demo, the benchmarks and the tests make their own).
/// </summary>
internal static class MakeModelCommand
{
    public static Command Create()
    {
        var kind = new Option<string>("--kind") { Description = "mlp (64→256→256→4) or cnn (3×128 sensor window, 4 activity classes)", Required = true };
        kind.AcceptOnlyFromAmong("mlp", "cnn");
        var output = new Option<FileInfo>("--output", "-o") { Description = "where to write the .onnx file", Required = true };
        var seed = new Option<ulong?>("--seed") { Description = "weight seed (default: the demo model's)" };
        var version = new Option<long>("--model-version") { Description = "model_version field", DefaultValueFactory = _ => 1 };
        var command = new Command("make-model", "Write a generated INT8 QDQ demo model (MLP or 1-D CNN)") { kind, output, seed, version };
        CliRunner.SetAction(command, parse =>
        {
            var model = Generate(parse.GetValue(kind)!, parse.GetValue(seed), parse.GetValue(version));
            var file = parse.GetValue(output)!;
            file.Directory?.Create();
            File.WriteAllBytes(file.FullName, model.OnnxBytes);
            Console.Out.WriteLine($"wrote {file.FullName} ({model.OnnxBytes.Length:N0} bytes): {model.InputName} " +
                $"float32[{string.Join(',', model.InputShape)}] → {model.OutputName} float32[{string.Join(',', model.OutputShape)}], " +
                $"labels {string.Join(", ", model.Labels)}");
            return CliRunner.Ok;
        });
        return command;
    }

    public static GeneratedModel Generate(string kind, ulong? seed = null, long version = 1) => kind switch
    {
        "mlp" => QdqMlp.Generate(seed is { } s ? new QdqMlpOptions { Seed = s, ModelVersion = version } : new QdqMlpOptions { ModelVersion = version }),
        "cnn" => QdqCnn1d.Generate(seed is { } s2 ? new QdqCnn1dOptions { Seed = s2, ModelVersion = version } : new QdqCnn1dOptions { ModelVersion = version }),
        _ => throw new CliUsageException($"unknown model kind '{kind}' (mlp or cnn)"),
    };
}
