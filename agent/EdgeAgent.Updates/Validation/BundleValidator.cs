using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Updates.Validation;

/// <summary>What validation measured on this device.</summary>
public sealed record ValidationReport(int GoldenVectors, double GoldenMaxAbsError, int LatencyRuns, double P50Ms, double P99Ms, double BudgetMs);

/// <summary>
/// Device-side checks of a bundle whose TUF hashes already matched. Policy checks
/// (<see cref="CheckPolicy"/>: hardware id, release counter) run before any model byte reaches
/// ONNX Runtime; <see cref="ValidateModel"/> then loads the model in its own session (never the
/// serving one), compares its contract with the manifest, runs the golden vectors and measures
/// p99 latency against the manifest's budget. Every failure is an
/// <see cref="UpdateRefusedException"/> naming the cause. Stateless; thread safe.
/// </summary>
public sealed class BundleValidator(OnnxSessionOptions sessionOptions, int latencyRuns = 200, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public static void CheckPolicy(BundleManifest manifest, string family, string hardwareId, long releaseCounterFloor, long activeReleaseCounter)
    {
        if (manifest.Name != family)
            throw new UpdateRefusedException(UpdateRefusal.BundleFormat, $"the bundle is for model family '{manifest.Name}', this update is for '{family}'.");
        if (!manifest.HardwareIds.Contains(hardwareId, StringComparer.Ordinal))
            throw new UpdateRefusedException(UpdateRefusal.HardwareId,
                $"release {manifest.Version} is built for hardware [{string.Join(", ", manifest.HardwareIds)}], this device is '{hardwareId}'; publish a bundle that lists it.");
        var floor = Math.Max(releaseCounterFloor, activeReleaseCounter);
        if (manifest.ReleaseCounter <= floor)
            throw new UpdateRefusedException(UpdateRefusal.ReleaseCounter,
                $"release {manifest.Version} has release counter {manifest.ReleaseCounter}, not above {floor} already installed for '{family}'; release counters never go back (republish with counter {floor + 1} or higher).");
    }

    public ValidationReport ValidateModel(ModelBundle bundle)
    {
        var m = bundle.Manifest;
        OnnxSession session;
        try { session = OnnxSession.Load(bundle.Model, sessionOptions, $"{m.Name} {m.Version} (validation)"); }
        catch (OnnxRuntimeException e)
        {
            throw new UpdateRefusedException(UpdateRefusal.ModelLoad, $"ONNX Runtime cannot load model.onnx of release {m.Version}: {e.Message}", e);
        }
        InferenceEngine engine;
        try
        {
            CheckContract(session.Contract, m);
            engine = InferenceEngine.Create(session, new InferenceEngineOptions { WarmUp = true, MaxPooledLeases = 1 });
        }
        catch (Exception e) when (e is ModelContractException or OnnxRuntimeException)
        {
            session.Dispose();
            throw new UpdateRefusedException(UpdateRefusal.ContractMismatch, $"release {m.Version}: {e.Message}", e);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        using (engine)
        {
            var output = new float[ManifestRules.ElementCount(m.Outputs[0])];
            double maxError = 0;
            for (var i = 0; i < m.GoldenVectors.Vectors.Count; i++)
            {
                var v = m.GoldenVectors.Vectors[i];
                engine.Run<float, float>(v.Input, output);
                for (var j = 0; j < output.Length; j++)
                {
                    var err = Math.Abs((double)output[j] - v.Expected[j]);
                    if (!(err <= m.GoldenVectors.Tolerance)) // NaN fails too
                        throw new UpdateRefusedException(UpdateRefusal.GoldenVector,
                            $"release {m.Version}: golden vector {i}, output {j}: the model gives {output[j]:G6}, the manifest expects {v.Expected[j]:G6} (tolerance {m.GoldenVectors.Tolerance:G3}); the model or its vectors are wrong for this runtime.");
                    maxError = Math.Max(maxError, err);
                }
            }
            var samples = new double[latencyRuns];
            for (var r = 0; r < latencyRuns; r++)
            {
                var v = m.GoldenVectors.Vectors[r % m.GoldenVectors.Vectors.Count];
                var t0 = _time.GetTimestamp();
                engine.Run<float, float>(v.Input, output);
                samples[r] = _time.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(samples);
            var p50 = Percentile(samples, 0.50);
            var p99 = Percentile(samples, 0.99);
            if (p99 > m.LatencyBudgetMs)
                throw new UpdateRefusedException(UpdateRefusal.LatencyBudget,
                    $"release {m.Version}: p99 latency on this device is {p99:0.###} ms over {latencyRuns} runs, above its {m.LatencyBudgetMs:0.###} ms budget.");
            return new ValidationReport(m.GoldenVectors.Vectors.Count, maxError, latencyRuns, p50, p99, m.LatencyBudgetMs);
        }
    }

    /// <summary>Manifest contract vs what ONNX Runtime reports (names, order, element types, shapes; dynamic dims accept any size).</summary>
    public static void CheckContract(ModelContract model, BundleManifest m)
    {
        Compare("input", model.Inputs, m.Inputs);
        Compare("output", model.Outputs, m.Outputs);

        static void Compare(string kind, IReadOnlyList<TensorSpec> actual, List<TensorDescriptor> declared)
        {
            if (actual.Count != declared.Count)
                throw new ModelContractException($"manifest declares {declared.Count} {kind}s ({string.Join(", ", declared)}), the model has {actual.Count} ({string.Join(", ", actual.Select(a => $"'{a.Name}' {a}"))})");
            for (var i = 0; i < actual.Count; i++)
            {
                var a = actual[i];
                var d = declared[i];
                var type = ElementTypes.Name(a.ElementType);
                var shapeOk = a.Shape.Length == d.Shape.Count && a.Shape.Select((dim, k) => dim < 0 || dim == d.Shape[k]).All(x => x);
                if (a.Name != d.Name || type != d.ElementType || !shapeOk)
                    throw new ModelContractException($"manifest declares {kind} {i} as {d}, the model has '{a.Name}' {a}");
            }
        }
    }

    internal static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
