namespace EdgeAgent.OnnxFormat.Generators;

/// <summary>
/// Single-node models for binding and dtype tests: <c>Identity</c> and <c>Cast</c> over any supported
/// element type and any shape, including symbolic (dynamic) dimensions. Input is named <c>input</c>,
/// output <c>output</c>. Opset 13, IR 8. Thread-safe (stateless).
/// </summary>
public static class SimpleModels
{
    public const string InputName = "input";
    public const string OutputName = "output";

    /// <summary>output = input, with the same element type and declared shape.</summary>
    public static byte[] Identity(OnnxElementType type, IReadOnlyList<OnnxDim> shape)
    {
        var b = NewBuilder($"identity_{ElementTypes.Name(type)}");
        b.AddInput(InputName, type, shape);
        b.AddOutput(OutputName, type, shape);
        b.AddNode("Identity", [InputName], [OutputName], "identity");
        return b.Build();
    }

    /// <summary>output = Cast(input, to) (ONNX Cast-13 semantics: float→int truncates toward zero, →bool is "≠ 0").</summary>
    public static byte[] Cast(OnnxElementType from, OnnxElementType to, IReadOnlyList<OnnxDim> shape)
    {
        var b = NewBuilder($"cast_{ElementTypes.Name(from)}_to_{ElementTypes.Name(to)}");
        b.AddInput(InputName, from, shape);
        b.AddOutput(OutputName, to, shape);
        b.AddNode("Cast", [InputName], [OutputName], "cast").WithInt("to", (long)to);
        return b.Build();
    }

    private static OnnxModelBuilder NewBuilder(string graphName)
    {
        var b = new OnnxModelBuilder { GraphName = graphName, ProducerVersion = "1", ModelVersion = 1 };
        b.AddOpset("", 13);
        return b;
    }
}
