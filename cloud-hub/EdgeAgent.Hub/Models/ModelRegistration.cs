using System.Security.Cryptography;
using System.Text.Json;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Models;

/// <summary>A registration refused; <see cref="Exception.Message"/> tells the operator what to fix.</summary>
public sealed class ModelRejectedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A model that passed every check, with the bundle built from it.</summary>
public sealed record RegisteredModel(ModelRecord Record, byte[] Bundle);

/// <summary>
/// Checks an uploaded model before it enters the registry (issue 7 §5) and builds its bundle
/// (EdgeAgent.Bundles: <c>manifest.json</c> + <c>model.onnx</c>, deterministic tar). The manifest part
/// is the bundle manifest without its <c>model</c> section (the hub fills length and SHA-256).
/// Checks, in order, each with a message naming the problem: size, manifest rules, ONNX structure
/// (<see cref="ModelInfo"/>), that ONNX Runtime loads it, that the model's inputs/outputs match the
/// manifest, and that it reproduces every golden vector within the tolerance. Nothing is stored
/// unless every check passes. Thread-safe (no shared state).
/// </summary>
public sealed class ModelRegistration(IHubStore store, TimeProvider time, long maxModelBytes)
{
    /// <param name="referenceData">Optional training data (CSV or .npy, see <see cref="ReferenceData"/>): its
    /// profile replaces the manifest's <c>driftProfile</c>, so it travels to devices in the bundle.</param>
    /// <param name="referenceFeatures">Feature names of a .npy <paramref name="referenceData"/> (CSV names its columns).</param>
    public async Task<RegisteredModel> RegisterAsync(byte[] onnx, byte[] manifestJson, string registeredBy, CancellationToken ct,
        byte[]? referenceData = null, IReadOnlyList<string>? referenceFeatures = null)
    {
        if (onnx.Length == 0) throw new ModelRejectedException("model.onnx is empty");
        if (onnx.Length > maxModelBytes)
            throw new ModelRejectedException($"model.onnx is {onnx.Length} bytes, over the hub's limit of {maxModelBytes} bytes (edgehub serve --max-model-bytes)");
        var manifest = ParseManifest(manifestJson);
        if (referenceData is not null)
            manifest.DriftProfile = ReferenceProfileJson.ToDocument(ReferenceData.Build(referenceData, referenceFeatures));
        byte[] bundle;
        try
        {
            bundle = BundleBuilder.Build(manifest, onnx); // fills manifest.Model, then applies ManifestRules
        }
        catch (BundleException e)
        {
            throw new ModelRejectedException(e.Message, e);
        }
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
        if (manifest.DriftProfile is { } doc)
        {
            try
            {
                profile = ReferenceProfileJson.Serialize(ReferenceProfileJson.FromDocument(doc));
            }
            catch (FormatException e)
            {
                throw new ModelRejectedException($"manifest.json: driftProfile is invalid: {e.Message}", e);
            }
        }
        var record = new ModelRecord(manifest.Name, manifest.Version, onnx.Length, Convert.ToHexStringLower(SHA256.HashData(onnx)), contract,
            BundleManifestJson.Serialize(manifest), profile, registeredBy, time.GetUtcNow());
        await store.RegisterModelAsync(record, onnx, bundle, ct);
        return new RegisteredModel(record, bundle);
    }

    private static BundleManifest ParseManifest(byte[] json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, BundleManifestJsonContext.Default.BundleManifest)
                   ?? throw new ModelRejectedException("manifest.json is 'null'; expected the bundle manifest object");
        }
        catch (JsonException e)
        {
            throw new ModelRejectedException($"manifest.json is not a valid bundle manifest: {e.Message}", e);
        }
    }

    private static void CheckContract(BundleManifest manifest, ModelContract contract)
    {
        Check("input", manifest.Inputs, contract.Inputs);
        Check("output", manifest.Outputs, contract.Outputs);

        static void Check(string what, IReadOnlyList<TensorDescriptor> promised, IReadOnlyList<TensorSpec> actual)
        {
            foreach (var t in promised)
            {
                var spec = actual.FirstOrDefault(s => s.Name == t.Name)
                           ?? throw new ModelRejectedException($"manifest {what} '{t.Name}' is not in the model, which has {what}s {string.Join(", ", actual.Select(s => $"'{s.Name}' {s}"))}");
                if (t.ElementType != spec.TypeText)
                    throw new ModelRejectedException($"manifest {what} {t} does not match the model's {spec}");
                // The manifest binds concrete shapes; the model may leave a dimension symbolic (-1).
                if (t.Shape.Count != spec.Rank || t.Shape.Where((d, i) => spec.Shape[i] >= 0 && d != spec.Shape[i]).Any())
                    throw new ModelRejectedException($"manifest {what} {t} does not match the model's {spec}");
            }
            if (promised.Count != actual.Count)
                throw new ModelRejectedException($"manifest lists {promised.Count} {what}(s), the model has {actual.Count}: {string.Join(", ", actual.Select(s => s.Name))}");
        }
    }

    private static void CheckGoldenVectors(BundleManifest manifest, OnnxSession session)
    {
        var input = manifest.Inputs[0];
        var output = manifest.Outputs[0];
        var shape = input.Shape.ToArray();
        var tolerance = manifest.GoldenVectors.Tolerance;
        for (int i = 0; i < manifest.GoldenVectors.Vectors.Count; i++)
        {
            var v = manifest.GoldenVectors.Vectors[i];
            var outputs = session.Run([OnnxTensor.Create(input.Name, shape, v.Input)], [output.Name]);
            if (outputs[0].Data is not float[] actual || actual.Length != v.Expected.Length)
                throw new ModelRejectedException($"golden vector {i}: output '{output.Name}' gave {outputs[0].ElementCount} {outputs[0].ElementType} values, expected {v.Expected.Length} float32");
            for (int j = 0; j < actual.Length; j++)
            {
                if (!(Math.Abs(actual[j] - v.Expected[j]) <= tolerance))
                    throw new ModelRejectedException($"golden vector {i}: output '{output.Name}'[{j}] = {actual[j]:G6}, expected {v.Expected[j]:G6} ± {tolerance:G3}");
            }
        }
    }
}
