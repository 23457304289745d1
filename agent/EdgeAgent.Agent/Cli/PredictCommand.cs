using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent predict --model F --input NAME=FILE …</c>: one inference on files (JSON arrays, <c>.npy</c>,
/// or ONNX <c>TensorProto</c> <c>.pb</c> as in the ONNX backend test data), outputs as JSON plus latency.
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "ONNX model file", Required = true };
        var inputs = new Option<string[]>("--input", "-i")
        {
            Description = "NAME=FILE (or just FILE for a one-input model); FILE is .json, .npy or .pb",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var outputDir = new Option<DirectoryInfo?>("--output-dir") { Description = "also write each output to DIR/<name>.<format>" };
        var format = new Option<string>("--output-format") { Description = "npy or pb", DefaultValueFactory = _ => "npy" };
        format.AcceptOnlyFromAmong("npy", "pb");
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var command = new Command("predict", "Run a model once on input files and print its outputs") { model, inputs, outputDir, format, json };
        CliRunner.SetAction(command, parse => Run(parse.GetValue(model)!, parse.GetValue(inputs)!, parse.GetValue(outputDir),
            parse.GetValue(format)!, parse.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo modelFile, string[] inputArgs, DirectoryInfo? outputDir, string format, bool json)
    {
        using var session = OnnxSession.Load(modelFile.FullName);
        var inputs = ReadInputs(session.Contract, inputArgs);
        foreach (var input in inputs)
        {
            long bad = NonFiniteCount(input);
            if (bad > 0)
                Console.Error.WriteLine($"edgeagent predict: warning: input '{input.Name}' has {bad} NaN/Inf value(s); passed to the model as is");
        }

        session.Run(inputs); // first run pays one-time initialisation; the reported latency is a warm run
        long start = Stopwatch.GetTimestamp();
        var outputs = session.Run(inputs);
        double latencyUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;

        if (outputDir is not null)
        {
            outputDir.Create();
            foreach (var output in outputs)
            {
                string path = Path.Combine(outputDir.FullName, SafeFileName(output.Name) + "." + format);
                File.WriteAllBytes(path, format == "pb" ? TensorProtoCodec.Write(output) : NpyFormat.Write(output));
            }
        }

        if (json)
            JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("model", modelFile.FullName);
                w.WriteNumber("latencyUs", Math.Round(latencyUs, 3));
                w.WriteStartArray("outputs");
                foreach (var output in outputs) WriteTensor(w, output);
                w.WriteEndArray();
                w.WriteEndObject();
            });
        else
        {
            foreach (var output in outputs)
                Console.Out.WriteLine($"{output}  {JsonTensorWriter.ToJson(output)}");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"latency {latencyUs:F1} µs (warm)"));
        }
        return CliRunner.Ok;
    }

    private static List<OnnxTensor> ReadInputs(ModelContract contract, string[] args)
    {
        var result = new List<OnnxTensor>();
        foreach (string arg in args)
        {
            int eq = arg.IndexOf('=');
            string name, path;
            if (eq > 0) (name, path) = (arg[..eq], arg[(eq + 1)..]);
            else if (contract.Inputs.Count == 1) (name, path) = (contract.Inputs[0].Name, arg);
            else throw new CliUsageException(
                $"'{arg}': this model has {contract.Inputs.Count} inputs ({string.Join(", ", contract.Inputs.Select(i => i.Name))}); write --input NAME=FILE");
            var spec = contract.FindInput(name) ?? throw new CliUsageException(
                $"the model has no input '{name}'; its inputs are {string.Join(", ", contract.Inputs.Select(i => $"'{i.Name}' {i}"))}");
            if (result.Any(t => t.Name == name)) throw new CliUsageException($"input '{name}' is given twice");
            result.Add(ReadTensor(path, spec));
        }
        var missing = contract.Inputs.Where(i => result.All(t => t.Name != i.Name)).Select(i => $"'{i.Name}' {i}").ToList();
        if (missing.Count > 0) throw new CliUsageException($"missing input(s): {string.Join(", ", missing)}");
        return result;
    }

    private static OnnxTensor ReadTensor(string path, TensorSpec spec)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"input file '{path}' for '{spec.Name}' does not exist");
        var tensor = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => NpyFormat.ReadFile(path, spec.Name),
            ".pb" => TensorProtoCodec.ReadFile(path).WithName(spec.Name),
            ".json" => JsonTensorReader.Parse(File.ReadAllBytes(path), spec.ElementType, spec.Name),
            var ext => throw new CliUsageException($"input file '{path}': unknown extension '{ext}' (use .json, .npy or .pb)"),
        };
        // Values given flat (or with another nesting of the same count) are reshaped to the model's declared
        // shape; a count that cannot fit gives a message naming both shapes.
        var declared = new OnnxValueInfo(spec.Name, spec.ElementType,
            spec.Shape.Select(d => d >= 0 ? OnnxDim.Fixed(d) : OnnxDim.Unknown).ToArray());
        return tensor.ElementType == spec.ElementType ? JsonTensorReader.FitTo(tensor, declared) : tensor;
    }

    private static long NonFiniteCount(OnnxTensor t) => t.Data switch
    {
        float[] f => f.LongCount(v => !float.IsFinite(v)),
        double[] d => d.LongCount(v => !double.IsFinite(v)),
        Half[] h => h.LongCount(v => !Half.IsFinite(v)),
        _ => 0,
    };

    private static string SafeFileName(string name)
    {
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] is '-' or '_' or '.')) chars[i] = '_';
        return new string(chars);
    }

    internal static void WriteTensor(Utf8JsonWriter w, OnnxTensor t)
    {
        w.WriteStartObject();
        w.WriteString("name", t.Name);
        w.WriteString("dtype", ElementTypes.Name(t.ElementType));
        w.WriteStartArray("shape");
        foreach (long d in t.Dims) w.WriteNumberValue(d);
        w.WriteEndArray();
        w.WritePropertyName("values");
        JsonTensorWriter.WriteValues(w, t);
        w.WriteEndObject();
    }
}
