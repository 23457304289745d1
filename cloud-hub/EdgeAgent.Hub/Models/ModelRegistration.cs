using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Models;

/// <summary>A tensor the manifest promises: name, element type (<c>float32</c>, <c>int8</c>, …) and shape (-1 = any).</summary>
public sealed record ManifestTensor(string Name, string? Dtype = null, long[]? Shape = null);

/// <summary>One golden vector: a float input for the model's single input and the expected output.</summary>
public sealed record ManifestGoldenVector(float[] Input, float[] Expected, float Tolerance = 1e-3f);

/// <summary>
/// The manifest part uploaded with a model (until EdgeAgent.Bundles defines the bundle manifest the
/// hub then builds bundles from). Only <see cref="Name"/> and <see cref="Version"/> are required.
/// </summary>
public sealed record ModelManifestPart
{
    public required string Name { get; init; }
    public required string Version { get; init; }
    public string? Description { get; init; }
    public long? MaxSizeBytes { get; init; }
    public IReadOnlyList<ManifestTensor>? Inputs { get; init; }
    public IReadOnlyList<ManifestTensor>? Outputs { get; init; }
    public IReadOnlyList<ManifestGoldenVector>? GoldenVectors { get; init; }
    public ReferenceProfileDocument? ReferenceProfile { get; init; }
}

/// <summary>A registration refused; <see cref="Exception.Message"/> tells the operator what to fix.</summary>
public sealed class ModelRejectedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks an uploaded model before it enters the registry (issue 7 §5): size, ONNX structure
/// (<see cref="ModelInfo"/>), that ONNX Runtime loads it, the contract the manifest promises, and the
/// golden vectors. Nothing is stored unless every check passes. Thread-safe (no shared state).
/// </summary>
public sealed class ModelRegistration(IHubStore store, TimeProvider time, long maxModelBytes)
{
    public async Task<ModelRecord> RegisterAsync(byte[] onnx, byte[] manifestJson, string registeredBy, CancellationToken ct)
    {
        var manifest = ParseManifest(manifestJson);
        CheckName("name", manifest.Name);
        CheckName("version", manifest.Version);
        long limit = Math.Min(maxModelBytes, manifest.MaxSizeBytes ?? long.MaxValue);
        if (onnx.Length == 0) throw new ModelRejectedException("model.onnx is empty");
        if (onnx.Length > limit)
            throw new ModelRejectedException($"model.onnx is {onnx.Length} bytes, over the limit of {limit} bytes ({(manifest.MaxSizeBytes is null ? "hub --max-model-bytes" : "manifest maxSizeBytes")})");
        try
        {
            ModelInfo.Parse(onnx);
        }
        catch (OnnxFormatException e)
        {
            throw new ModelRejectedException($"model.onnx is not a valid ONNX model: {e.Message}", e);
        }
        string contract;
        try
        {
            using var session = OnnxSession.Load(onnx, sourceName: $"{manifest.Name}@{manifest.Version}");
            CheckContract(manifest, session.Contract);
            CheckGoldenVectors(manifest, session);
            contract = session.Contract.ToString();
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelContractException)
        {
            throw new ModelRejectedException($"ONNX Runtime cannot use model.onnx: {e.Message}", e);
        }
        byte[]? profile = null;
        if (manifest.ReferenceProfile is { } doc)
        {
            try
            {
                profile = ReferenceProfileJson.Serialize(ReferenceProfileJson.FromDocument(doc));
            }
            catch (Exception e) when (e is ReferenceProfileFormatException or FormatException)
            {
                throw new ModelRejectedException($"manifest referenceProfile is invalid: {e.Message}", e);
            }
        }
        var record = new ModelRecord(manifest.Name, manifest.Version, onnx.Length, Convert.ToHexStringLower(SHA256.HashData(onnx)), contract,
            manifestJson, profile, registeredBy, time.GetUtcNow());
        await store.RegisterModelAsync(record, onnx, ct);
        return record;
    }

    private static ModelManifestPart ParseManifest(byte[] json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, HubJsonContext.Default.ModelManifestPart)
                   ?? throw new ModelRejectedException("manifest is JSON null; expected an object with at least name and version");
        }
        catch (JsonException e)
        {
            throw new ModelRejectedException($"manifest is not valid JSON for a model manifest ({e.Message})", e);
        }
    }

    private static void CheckName(string what, string value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 100 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            throw new ModelRejectedException($"manifest {what} '{value}' must be 1..100 characters of letters, digits, '.', '-' or '_'");
    }

    private static void CheckContract(ModelManifestPart manifest, ModelContract contract)
    {
        Check("input", manifest.Inputs, contract.Inputs);
        Check("output", manifest.Outputs, contract.Outputs);

        static void Check(string what, IReadOnlyList<ManifestTensor>? promised, IReadOnlyList<TensorSpec> actual)
        {
            if (promised is null) return;
            foreach (var t in promised)
            {
                var spec = actual.FirstOrDefault(s => s.Name == t.Name)
                           ?? throw new ModelRejectedException($"manifest {what} '{t.Name}' is not in the model, which has {what}s {string.Join(", ", actual.Select(s => $"'{s.Name}' {s}"))}");
                if (t.Dtype is not null && t.Dtype != spec.TypeText)
                    throw new ModelRejectedException($"manifest {what} '{t.Name}' is {t.Dtype}, the model has {spec}");
                if (t.Shape is not null && (t.Shape.Length != spec.Rank || t.Shape.Where((d, i) => d >= 0 && spec.Shape[i] >= 0 && d != spec.Shape[i]).Any()))
                    throw new ModelRejectedException($"manifest {what} '{t.Name}' has shape [{string.Join(",", t.Shape)}], the model has {spec}");
            }
            if (promised.Count != actual.Count)
                throw new ModelRejectedException($"manifest lists {promised.Count} {what}(s), the model has {actual.Count}: {string.Join(", ", actual.Select(s => s.Name))}");
        }
    }

    private static void CheckGoldenVectors(ModelManifestPart manifest, OnnxSession session)
    {
        if (manifest.GoldenVectors is not { Count: > 0 } vectors) return;
        var contract = session.Contract;
        if (contract.Inputs.Count != 1 || contract.Outputs.Count < 1)
            throw new ModelRejectedException($"golden vectors need a model with one input; this one has {contract.Inputs.Count}");
        var input = contract.Inputs[0];
        if (input.TypeText != "float32")
            throw new ModelRejectedException($"golden vectors are float32, but input '{input.Name}' is {input}");
        var shape = input.Shape.Select(d => d < 0 ? 1 : d).ToArray();
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        for (int i = 0; i < vectors.Count; i++)
        {
            var v = vectors[i];
            if (v.Input.Length != elements)
                throw new ModelRejectedException($"golden vector {i}: input has {v.Input.Length} values, input '{input.Name}' {input} needs {elements}");
            var outputs = session.Run([OnnxTensor.Create(input.Name, shape, v.Input)]);
            if (outputs[0].Data is not float[] actual)
                throw new ModelRejectedException($"golden vector {i}: output '{outputs[0].Name}' is {outputs[0].ElementType}, golden vectors compare float32");
            if (actual.Length != v.Expected.Length)
                throw new ModelRejectedException($"golden vector {i}: model output has {actual.Length} values, expected {v.Expected.Length}");
            for (int j = 0; j < actual.Length; j++)
            {
                if (!(Math.Abs(actual[j] - v.Expected[j]) <= v.Tolerance))
                    throw new ModelRejectedException($"golden vector {i}: output[{j}] = {actual[j]:G6}, expected {v.Expected[j]:G6} ± {v.Tolerance:G3}");
            }
        }
    }
}
