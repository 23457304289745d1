namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Exact scalar semantics of ONNX QuantizeLinear / DequantizeLinear for int8 (onnx Operators.md,
/// QuantizeLinear-13: <c>y = saturate(round(x / y_scale) + y_zero_point)</c>, rounding half to even;
/// DequantizeLinear-13: <c>y = (x - x_zero_point) * x_scale</c>), plus the scale choices ONNX Runtime's
/// static quantizer makes. Arithmetic is float32 like ORT's kernels. Thread-safe (stateless).
/// </summary>
public static class QuantMath
{
    /// <summary>QuantizeLinear to int8. NaN, which ONNX leaves undefined, maps to the zero point here.</summary>
    public static sbyte Quantize(float x, float scale, sbyte zeroPoint)
    {
        float scaled = x / scale; // float32 division, as ORT's MLAS kernel does
        if (float.IsNaN(scaled)) return zeroPoint;
        float rounded = MathF.Round(scaled, MidpointRounding.ToEven);
        float shifted = rounded + zeroPoint;
        return shifted <= -128f ? sbyte.MinValue : shifted >= 127f ? sbyte.MaxValue : (sbyte)shifted;
    }

    /// <summary>DequantizeLinear from int8.</summary>
    public static float Dequantize(sbyte q, float scale, sbyte zeroPoint) => (q - zeroPoint) * scale;

    /// <summary>DequantizeLinear from int32 (biases quantized with scale = input scale × weight scale, zero point 0).</summary>
    public static float Dequantize(int q, float scale) => q * scale;

    /// <summary>Quantize followed by dequantize ("fake quantization"), what a Q→DQ pair computes.</summary>
    public static float FakeQuantize(float x, float scale, sbyte zeroPoint) => Dequantize(Quantize(x, scale, zeroPoint), scale, zeroPoint);

    /// <summary>
    /// Symmetric int8 parameters for values in [-maxAbs, maxAbs]: scale = maxAbs / 127, zero point 0
    /// (ORT quantizer for weights, and for activations with ActivationSymmetric).
    /// </summary>
    public static (float Scale, sbyte ZeroPoint) Symmetric(float maxAbs) => (Math.Max(maxAbs, MinRange) / 127f, 0);

    /// <summary>
    /// Asymmetric int8 parameters for values in [min, max] (range widened to include 0, as ORT's quantizer
    /// does): scale = (max - min) / 255, zero point = round(-128 - min / scale). For post-ReLU tensors
    /// (min = 0) the zero point is -128, which lets ORT drop the ReLU because Q saturates there anyway.
    /// </summary>
    public static (float Scale, sbyte ZeroPoint) Asymmetric(float min, float max)
    {
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        float scale = Math.Max(max - min, MinRange) / 255f;
        float zp = MathF.Round(-128f - min / scale, MidpointRounding.ToEven);
        return (scale, (sbyte)Math.Clamp(zp, -128f, 127f));
    }

    /// <summary>Numerically stable softmax in place (max subtracted; accumulated in double).</summary>
    public static void Softmax(Span<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = MathF.Exp(values[i] - max);
            sum += values[i];
        }
        for (int i = 0; i < values.Length; i++) values[i] = (float)(values[i] / sum);
    }

    /// <summary>Index of the largest value (first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    // A range of exactly zero (a dead ReLU channel) would give scale 0 and a division by zero at run time.
    private const float MinRange = 1e-6f;
}
