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
/// <c>edgeagent predict --window FILE|-</c>: one window on the RUNNING agent's model over the control socket
/// (the live engine, so it answers with whatever model is active now).
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo?>("--model", "-m") { Description = "ONNX model file (without it: ask the running agent's model)" };
        var inputs = new Option<string[]>("--input", "-i")
        {
            Description = "with --model: NAME=FILE (or just FILE for a one-input model); FILE is .json, .npy or .pb",
            AllowMultipleArgumentsPerToken = false,
        };
        var window = new Option<string?>("--window", "-w")
        {
            Description = "without --model: one window for the running model, from FILE or '-' (stdin): a JSON array "
                + "(model input order, nesting allowed) or CSV/whitespace rows of one sample each (columns = channels)",
        };
        var config = ConfigCommand.ConfigOption();
        var outputDir = new Option<DirectoryInfo?>("--output-dir") { Description = "also write each output to DIR/<name>.<format>" };
        var format = new Option<string>("--output-format") { Description = "npy or pb", DefaultValueFactory = _ => "npy" };
        format.AcceptOnlyFromAmong("npy", "pb");
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var command = new Command("predict", "Run a model once: on input files (--model), or on one window with the running agent's model")
        {
            model, inputs, window, config, outputDir, format, json,
        };
        CliRunner.SetAction(command, async (parse, ct) =>
        {
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(model) is { } file)
            {
                if (parse.GetValue(inputs) is not { Length: > 0 } given) throw new CliUsageException("--model needs --input NAME=FILE");
                if (parse.GetValue(window) is not null) throw new CliUsageException("--window is for the running model; with --model use --input");
                return Run(file, given, parse.GetValue(outputDir), parse.GetValue(format)!, asJson);
            }
            if (parse.GetValue(inputs) is { Length: > 0 }) throw new CliUsageException("--input needs --model; for the running model use --window FILE (or '-' for stdin)");
            string source = parse.GetValue(window) ?? throw new CliUsageException("give --window FILE (or '-' for stdin) to ask the running model, or --model and --input for a model file");
            string text = source == "-" ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(source, ct);
            float[] values = WindowText.Parse(text, source == "-" ? "stdin" : source);
            return await StatusCommand.WithControlClientAsync(command, parse, config, client => AskAsync(client, values, asJson, ct), TimeSpan.FromSeconds(30));
        });
        return command;
    }

    private static async Task<int> AskAsync(Hosting.Control.ControlClient client, float[] values, bool asJson, CancellationToken ct)
    {
        {
            var answer = await StatusCommand.InvokeAsync(client, "predict", ct, StatusCommand.Args(w =>
            {
                w.WriteStartArray("input");
                foreach (float v in values) w.WriteNumberValue(v);
                w.WriteEndArray();
            }));
            if (asJson) JsonOutput.Write(answer.WriteTo);
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{answer.GetProperty("label").GetString()} {answer.GetProperty("confidence").GetDouble():0.000}{(answer.GetProperty("belowThreshold").GetBoolean() ? " (below the confidence threshold: a hard case)" : "")}"));
                foreach (var p in answer.GetProperty("probabilities").EnumerateArray())
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {p.GetProperty("label").GetString(),-20} {p.GetProperty("p").GetDouble():0.000}"));
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"model {answer.GetProperty("model").GetString()} {answer.GetProperty("version").GetString()} (slot {answer.GetProperty("slot").GetString()}), {answer.GetProperty("latencyUs").GetDouble():0.0} µs"));
            }
            return CliRunner.Ok;
        }
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

/// <summary>Reads one window from text: a JSON array (flattened in order) or rows of numbers, one sample per row.</summary>
internal static class WindowText
{
    /// <summary>
    /// Rows with several columns are samples × channels and are transposed to the model's channels-first order
    /// (all samples of channel 0, then channel 1, …), which is how the agent's windower feeds the model.
    /// </summary>
    /// <exception cref="InvalidDataException">Not numbers, ragged rows or nothing at all; the message says where.</exception>
    public static float[] Parse(string text, string source)
    {
        string trimmed = text.Trim();
        if (trimmed.Length == 0) throw new InvalidDataException($"{source}: empty; give one window of numbers");
        if (trimmed[0] == '[')
        {
            var values = new List<float>();
            try
            {
                using var doc = JsonDocument.Parse(trimmed);
                Flatten(doc.RootElement, values, source);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source}: not a JSON array of numbers: {e.Message}");
            }
            return [.. values];
        }
        var rows = new List<float[]>();
        int line = 0;
        foreach (string raw in trimmed.Split('\n'))
        {
            line++;
            string l = raw.Trim();
            if (l.Length == 0 || l[0] == '#') continue;
            var cells = l.Split([',', ' ', '\t', ';'], StringSplitOptions.RemoveEmptyEntries);
            var row = new float[cells.Length];
            for (int i = 0; i < cells.Length; i++)
                if (!float.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out row[i]))
                    throw new InvalidDataException($"{source}: line {line}: '{cells[i]}' is not a number");
            if (rows.Count > 0 && row.Length != rows[0].Length)
                throw new InvalidDataException($"{source}: line {line} has {row.Length} values, the first row {rows[0].Length}; every row is one sample with one value per channel");
            rows.Add(row);
        }
        int channels = rows[0].Length;
        var result = new float[rows.Count * channels];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < channels; c++)
                result[c * rows.Count + r] = rows[r][c];
        return result;
    }

    private static void Flatten(JsonElement e, List<float> values, string source)
    {
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray()) Flatten(item, values, source);
            return;
        }
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetSingle(out float f))
            throw new InvalidDataException($"{source}: value #{values.Count} is {e.ValueKind.ToString().ToLowerInvariant()}, not a number");
        values.Add(f);
    }
}
