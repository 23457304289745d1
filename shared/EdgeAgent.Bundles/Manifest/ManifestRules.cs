using System.Globalization;

namespace EdgeAgent.Bundles.Manifest;

/// <summary>Semantic checks of a manifest, independent of the model file (that is checked at validation on the device).</summary>
public static class ManifestRules
{
    public const int CurrentFormatVersion = 1;

    /// <summary>Element types a manifest may name.</summary>
    public static readonly string[] ElementTypes =
        ["float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "bool", "float16", "float64", "uint32", "uint64"];

    /// <summary>Throws <see cref="BundleException"/> (<see cref="BundleFailure.Manifest"/>) naming the first problem.</summary>
    public static void Validate(BundleManifest m)
    {
        if (m.FormatVersion != CurrentFormatVersion)
            Fail($"formatVersion {m.FormatVersion} is not supported (this agent reads {CurrentFormatVersion}); update the agent or rebuild the bundle.");
        BundleLayout.RequireName(m.Name, "name");
        BundleLayout.RequireName(m.Version, "version");
        if (m.ReleaseCounter < 1) Fail($"releaseCounter must be at least 1, got {m.ReleaseCounter}.");
        if (m.HardwareIds is null || m.HardwareIds.Count == 0 || m.HardwareIds.Any(string.IsNullOrWhiteSpace))
            Fail("hardwareIds must list at least one non-empty hardware id.");
        if (m.Inputs is null || m.Inputs.Count == 0) Fail("inputs must list the model inputs.");
        if (m.Outputs is null || m.Outputs.Count == 0) Fail("outputs must list the model outputs.");
        foreach (var t in m.Inputs!.Concat(m.Outputs!)) CheckTensor(t);
        if (m.Labels is null) Fail("labels is missing.");
        if (m.Windowing is null || m.Windowing.Length < 1 || m.Windowing.Stride < 1 || m.Windowing.Channels < 1 || !double.IsFinite(m.Windowing.SampleRateHz) || m.Windowing.SampleRateHz < 0)
            Fail("windowing needs length ≥ 1, stride ≥ 1, channels ≥ 1 and a finite sampleRateHz ≥ 0.");
        if (!(m.ConfidenceThreshold is >= 0 and <= 1)) Fail($"confidenceThreshold must be in [0, 1], got {m.ConfidenceThreshold.ToString(CultureInfo.InvariantCulture)}.");
        if (!(double.IsFinite(m.LatencyBudgetMs) && m.LatencyBudgetMs > 0)) Fail("latencyBudgetMs must be a positive number of milliseconds.");
        var g = m.GoldenVectors;
        if (g is null || g.Vectors is null || g.Vectors.Count == 0) Fail("goldenVectors must hold at least one vector: a model is never activated unchecked.");
        if (!(float.IsFinite(g!.Tolerance) && g.Tolerance > 0)) Fail("goldenVectors.tolerance must be a positive number.");
        var inElems = m.Inputs.Count == 1 ? ElementCount(m.Inputs[0]) : -1;
        var outElems = ElementCount(m.Outputs[0]);
        if (m.Inputs.Count != 1 || m.Inputs[0].ElementType != "float32")
            Fail("golden vectors need a model with exactly one float32 input (format 1).");
        if (m.Outputs[0].ElementType != "float32") Fail("golden vectors compare the first output, which must be float32 (format 1).");
        if (m.Labels.Count != 0 && m.Labels.Count != outElems / Math.Max(1, m.Outputs[0].Shape.FirstOrDefault(1)))
            Fail($"labels has {m.Labels.Count} entries but output {m.Outputs[0]} has {outElems} values per window.");
        for (var i = 0; i < g.Vectors.Count; i++)
        {
            var v = g.Vectors[i];
            if (v?.Input is null || v.Expected is null) Fail($"golden vector {i} needs input and expected.");
            if (v!.Input.Length != inElems)
                Fail($"golden vector {i}: model input {m.Inputs[0]} expects {inElems} values, the vector has {v.Input.Length}.");
            if (v.Expected.Length != outElems)
                Fail($"golden vector {i}: output {m.Outputs[0]} has {outElems} values, the vector expects {v.Expected.Length}.");
            if (!v.Input.All(float.IsFinite) || !v.Expected.All(float.IsFinite)) Fail($"golden vector {i} holds NaN or infinity.");
        }
        if (m.Model is null || m.Model.File != BundleLayout.ModelEntry) Fail($"model.file must be '{BundleLayout.ModelEntry}'.");
        if (m.Model!.Length < 1) Fail("model.length must be positive.");
        if (m.Model.Sha256 is not { Length: 64 } h || !h.All(Uri.IsHexDigit)) Fail("model.sha256 must be 64 hex digits.");
    }

    /// <summary>Product of the dimensions (all must be fixed and positive in a manifest).</summary>
    public static long ElementCount(TensorDescriptor t)
    {
        long n = 1;
        foreach (var d in t.Shape) n = checked(n * d);
        return n;
    }

    private static void CheckTensor(TensorDescriptor t)
    {
        if (t is null || string.IsNullOrWhiteSpace(t.Name)) Fail("every input/output needs a name.");
        if (!ElementTypes.Contains(t!.ElementType)) Fail($"tensor '{t.Name}': element type '{t.ElementType}' is not one of {string.Join(", ", ElementTypes)}.");
        if (t.Shape is null || t.Shape.Count == 0 || t.Shape.Count > 8 || t.Shape.Any(d => d < 1 || d > 1 << 24))
            Fail($"tensor '{t.Name}': shape must have 1–8 fixed positive dimensions (the device binds concrete shapes).");
        if (ElementCount(t) > 1 << 24) Fail($"tensor '{t.Name}' has more than {1 << 24} elements.");
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string message) => throw new BundleException(BundleFailure.Manifest, "manifest.json: " + message);
}
