using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Agent.Cli;

/// <summary><c>edgeagent inspect --model F</c>: what a model file is and whether this device's ONNX Runtime loads it.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "ONNX model file", Required = true };
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var command = new Command("inspect", "Show a model's inputs, outputs, opsets, metadata, size and SHA-256") { model, json };
        CliRunner.SetAction(command, parse => Run(parse.GetValue(model)!, parse.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo file, bool json)
    {
        byte[] bytes = File.ReadAllBytes(file.FullName);
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var info = ModelInfo.Parse(bytes);

        // The protobuf view above is ours; whether ORT on this device accepts the graph is the question
        // an operator actually has, so load it too and report a refusal instead of failing the whole verb.
        OnnxModelMetadata? metadata = null;
        string? loadError = null;
        try
        {
            using var session = OnnxSession.Load(bytes, sourceName: file.FullName);
            metadata = session.Metadata;
        }
        catch (OnnxRuntimeException e)
        {
            loadError = e.Message;
        }

        if (json)
            JsonOutput.Write(w => WriteJson(w, file, bytes.Length, sha256, info, metadata, loadError));
        else
            WriteText(file, bytes.Length, sha256, info, loadError);
        return loadError is null ? CliRunner.Ok : CliRunner.Failed;
    }

    private static void WriteText(FileInfo file, long size, string sha256, ModelInfo info, string? loadError)
    {
        var o = Console.Out;
        o.WriteLine($"model      {file.FullName}");
        o.WriteLine($"size       {size:N0} bytes");
        o.WriteLine($"sha256     {sha256}");
        o.WriteLine($"producer   {Or(info.ProducerName)} {info.ProducerVersion}".TrimEnd());
        o.WriteLine($"version    {info.ModelVersion}   ir {info.IrVersion}   opsets {string.Join(", ", info.OpsetImports)}");
        if (info.GraphName.Length > 0) o.WriteLine($"graph      {info.GraphName}");
        if (info.Domain.Length > 0) o.WriteLine($"domain     {info.Domain}");
        if (info.DocString.Length > 0) o.WriteLine($"doc        {info.DocString}");
        o.WriteLine("inputs");
        foreach (var i in info.Inputs) o.WriteLine($"  {i}");
        o.WriteLine("outputs");
        foreach (var i in info.Outputs) o.WriteLine($"  {i}");
        o.WriteLine($"nodes      {info.NodeCount}: {string.Join(", ", info.OpTypeHistogram.Select(p => $"{p.Key}×{p.Value}"))}");
        o.WriteLine($"weights    {info.InitializerCount} initializers, {info.InitializerBytes:N0} bytes" +
                    (info.ExternalInitializerCount > 0 ? $", {info.ExternalInitializerCount} external" : ""));
        if (info.MetadataProps.Count > 0)
        {
            o.WriteLine("metadata");
            foreach (var (k, v) in info.MetadataProps) o.WriteLine($"  {k} = {v}");
        }
        o.WriteLine(loadError is null
            ? $"runtime    loads in ONNX Runtime {OnnxRuntime.EnsureLoaded().Version}"
            : $"runtime    REFUSED by ONNX Runtime: {loadError}");
    }

    private static string Or(string s) => s.Length == 0 ? "(unknown)" : s;

    private static void WriteJson(Utf8JsonWriter w, FileInfo file, long size, string sha256, ModelInfo info,
        OnnxModelMetadata? metadata, string? loadError)
    {
        w.WriteStartObject();
        w.WriteString("path", file.FullName);
        w.WriteNumber("sizeBytes", size);
        w.WriteString("sha256", sha256);
        w.WriteNumber("irVersion", info.IrVersion);
        w.WriteStartArray("opsets");
        foreach (var op in info.OpsetImports)
        {
            w.WriteStartObject();
            w.WriteString("domain", op.Domain.Length == 0 ? "ai.onnx" : op.Domain);
            w.WriteNumber("version", op.Version);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("producerName", info.ProducerName);
        w.WriteString("producerVersion", info.ProducerVersion);
        w.WriteNumber("modelVersion", info.ModelVersion);
        w.WriteString("domain", info.Domain);
        w.WriteString("graphName", info.GraphName);
        w.WriteString("docString", info.DocString);
        WriteValues(w, "inputs", info.Inputs);
        WriteValues(w, "outputs", info.Outputs);
        w.WriteNumber("nodeCount", info.NodeCount);
        w.WriteStartObject("opTypes");
        foreach (var (op, count) in info.OpTypeHistogram) w.WriteNumber(op, count);
        w.WriteEndObject();
        w.WriteNumber("initializerCount", info.InitializerCount);
        w.WriteNumber("initializerBytes", info.InitializerBytes);
        w.WriteStartObject("metadata");
        foreach (var (k, v) in info.MetadataProps) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteStartObject("runtime");
        w.WriteBoolean("loads", loadError is null);
        if (loadError is not null) w.WriteString("error", loadError);
        else w.WriteString("version", OnnxRuntime.EnsureLoaded().Version);
        if (metadata is not null) w.WriteString("producerName", metadata.ProducerName);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteValues(Utf8JsonWriter w, string name, IReadOnlyList<OnnxValueInfo> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStartObject();
            w.WriteString("name", v.Name);
            w.WriteString("kind", v.Kind.ToString().ToLowerInvariant());
            w.WriteString("dtype", ElementTypes.Name(v.ElementType));
            if (v.Shape is null) w.WriteNull("shape");
            else
            {
                w.WriteStartArray("shape");
                foreach (var d in v.Shape)
                {
                    if (d.Value is { } fixedDim) w.WriteNumberValue(fixedDim);
                    else if (d.Param is { } param) w.WriteStringValue(param);
                    else w.WriteNullValue();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
