namespace EdgeAgent.OnnxFormat.Generators;

/// <summary>
/// A C# implementation of a generated model's graph in float32 with exact QuantizeLinear/DequantizeLinear
/// semantics (<see cref="QuantMath"/>), used to check what ONNX Runtime computes. Thread-safe: Run only
/// reads the model parameters.
/// </summary>
public abstract class QuantizedReference
{
    /// <summary>Elements of one batch item of the input (e.g. 64, or 3 × 128).</summary>
    public abstract int InputLength { get; }

    /// <summary>Elements of one batch item of the output (the number of classes).</summary>
    public abstract int OutputLength { get; }

    /// <summary>
    /// Runs the graph on <paramref name="input"/> (row-major, any whole number of batch items) and returns the
    /// softmax probabilities, <see cref="OutputLength"/> per item.
    /// </summary>
    public float[] Run(ReadOnlySpan<float> input)
    {
        if (input.Length == 0 || input.Length % InputLength != 0)
            throw new ArgumentException($"Input has {input.Length} values; the model takes a multiple of {InputLength}.", nameof(input));
        int batch = input.Length / InputLength;
        var output = new float[batch * OutputLength];
        for (int b = 0; b < batch; b++)
            RunOne(input.Slice(b * InputLength, InputLength), output.AsSpan(b * OutputLength, OutputLength));
        return output;
    }

    /// <summary>One batch item: writes the probabilities into <paramref name="probabilities"/>.</summary>
    protected abstract void RunOne(ReadOnlySpan<float> input, Span<float> probabilities);

    /// <summary>
    /// The int8 outputs of every QuantizeLinear node for one batch item, in graph order, named as in the graph
    /// (e.g. <c>fc0.act_q</c>). Generators built with <c>ExposeQuantizedActivations</c> also declare these as
    /// graph outputs, so ORT's integer kernels can be checked step by step.
    /// </summary>
    public abstract IReadOnlyList<KeyValuePair<string, sbyte[]>> QuantizedActivations(ReadOnlySpan<float> input);

    /// <summary>A deterministic in-distribution input for one batch item (what calibration saw), from <paramref name="seed"/>.</summary>
    public abstract float[] SampleInput(ulong seed);
}

/// <summary>
/// A generated ONNX model together with its C# reference and what to expect when comparing them.
/// </summary>
/// <param name="OnnxBytes">The serialized model.</param>
/// <param name="InputName">The single graph input.</param>
/// <param name="InputShape">Its shape for batch size 1.</param>
/// <param name="OutputName">The single graph output (softmax probabilities).</param>
/// <param name="OutputShape">Its shape for batch size 1.</param>
/// <param name="Labels">Class labels, in output order (also in the model's metadata_props).</param>
/// <param name="Reference">Float reference with exact Q/DQ semantics.</param>
/// <param name="ProbabilityTolerance">
/// Largest absolute difference expected between ORT's probabilities and the reference's, for in-distribution
/// inputs. ORT may run QDQ groups as integer kernels (QLinearMatMul, QLinearConv) whose requantization can put
/// an intermediate activation one quantization step away from the float reference when the exact value sits
/// near a rounding boundary; this bound covers that and was measured (see docs/bench/onnx-format.md).
/// </param>
/// <param name="MinArgMaxAgreement">Fraction of inputs on which ORT's and the reference's argmax are expected to agree.</param>
public sealed record GeneratedModel(
    byte[] OnnxBytes,
    string InputName,
    long[] InputShape,
    string OutputName,
    long[] OutputShape,
    IReadOnlyList<string> Labels,
    QuantizedReference Reference,
    float ProbabilityTolerance,
    double MinArgMaxAgreement)
{
    /// <summary>
    /// Input/expected-output pairs, e.g. for a bundle's golden-vector check: in-distribution inputs from
    /// <see cref="QuantizedReference.SampleInput"/> (seeds <paramref name="firstSeed"/>, +1, …) with the reference's
    /// probabilities, shaped and named like the model's input and output (batch 1). Compare with
    /// <see cref="ProbabilityTolerance"/>.
    /// </summary>
    public IReadOnlyList<ReferenceSample> ReferenceSamples(int count, ulong firstSeed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var vectors = new ReferenceSample[count];
        for (int i = 0; i < count; i++)
        {
            float[] x = Reference.SampleInput(firstSeed + (ulong)i);
            vectors[i] = new ReferenceSample(
                OnnxTensor.Create(InputName, InputShape, x),
                OnnxTensor.Create(OutputName, OutputShape, Reference.Run(x)));
        }
        return vectors;
    }
}

/// <summary>
/// A model input and the output the reference computes for it; the model must reproduce it within
/// <see cref="GeneratedModel.ProbabilityTolerance"/>. (Named apart from the bundle manifest's GoldenVector,
/// which is what these become when written into a bundle.)
/// </summary>
public sealed record ReferenceSample(OnnxTensor Input, OnnxTensor ExpectedOutput);
