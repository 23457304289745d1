using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Onnx;

/// <summary>ONNX value kinds (ORT's <c>ONNXType</c>); EdgeAgent runs tensors only and names the others in errors.</summary>
public enum OnnxValueKind
{
    Unknown = 0,
    Tensor = 1,
    Sequence = 2,
    Map = 3,
    Opaque = 4,
    SparseTensor = 5,
    Optional = 6,
}

/// <summary>
/// One model input or output as declared by the model: name, kind, element type and shape. Dynamic
/// dimensions are <c>-1</c> in <see cref="Shape"/>; their symbolic names (e.g. <c>"N"</c>, <c>"batch"</c>)
/// are in <see cref="SymbolicDims"/> (empty string when unnamed). Immutable.
/// </summary>
public sealed class TensorSpec
{
    public TensorSpec(string name, OnnxValueKind kind, OnnxElementType elementType, long[] shape, string[]? symbolicDims = null)
    {
        Name = name;
        Kind = kind;
        ElementType = elementType;
        Shape = shape;
        SymbolicDims = symbolicDims ?? new string[shape.Length].Select(_ => string.Empty).ToArray();
        if (SymbolicDims.Count != shape.Length)
            throw new ArgumentException($"'{name}': {SymbolicDims.Count} symbolic dims for rank {shape.Length}.", nameof(symbolicDims));
    }

    public string Name { get; }

    public OnnxValueKind Kind { get; }

    /// <summary>Element type for tensors; <see cref="OnnxElementType.Undefined"/> for other kinds.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>Dimensions, <c>-1</c> where dynamic. Do not mutate.</summary>
    public long[] Shape { get; }

    /// <summary>Symbolic name per dimension (<c>""</c> when the dimension is fixed or unnamed).</summary>
    public IReadOnlyList<string> SymbolicDims { get; }

    public int Rank => Shape.Length;

    /// <summary>True when this is a tensor with no dynamic dimension.</summary>
    public bool IsStatic => Kind == OnnxValueKind.Tensor && Array.TrueForAll(Shape, d => d >= 0);

    /// <summary>Element count for static shapes, otherwise null.</summary>
    public long? ElementCount => IsStatic ? OnnxTensor.ElementCountOf(Shape) : null;

    /// <summary>Shape as printed in messages: <c>[1,64]</c>, dynamic dims by symbol or <c>?</c>: <c>[N,64]</c>.</summary>
    public string ShapeText
    {
        get
        {
            var parts = new string[Shape.Length];
            for (int i = 0; i < Shape.Length; i++)
                parts[i] = Shape[i] >= 0 ? Shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : SymbolicDims[i].Length > 0 ? SymbolicDims[i] : "?";
            return "[" + string.Join(',', parts) + "]";
        }
    }

    /// <summary>Type as printed in messages: <c>float32</c>, or the kind for non-tensors (<c>sequence</c>).</summary>
    public string TypeText => Kind == OnnxValueKind.Tensor ? ElementTypes.Name(ElementType) : KindText(Kind);

    /// <summary>True when <paramref name="dims"/> fits this shape: same rank, equal fixed dims, any non-negative value for dynamic dims.</summary>
    public bool Accepts(ReadOnlySpan<long> dims)
    {
        if (dims.Length != Shape.Length) return false;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] < 0) return false;
            if (Shape[i] >= 0 && Shape[i] != dims[i]) return false;
        }
        return true;
    }

    /// <summary>Same name, kind, element type and shape (including which dims are dynamic).</summary>
    public bool SameAs(TensorSpec other) =>
        Name == other.Name && Kind == other.Kind && ElementType == other.ElementType && Shape.AsSpan().SequenceEqual(other.Shape);

    /// <summary><c>[1,64] float32</c>.</summary>
    public override string ToString() => Kind == OnnxValueKind.Tensor ? $"{ShapeText} {TypeText}" : TypeText;

    internal static string FormatDims(ReadOnlySpan<long> dims) => "[" + string.Join(',', dims.ToArray()) + "]";

    internal static string KindText(OnnxValueKind kind) => kind switch
    {
        OnnxValueKind.Tensor => "tensor",
        OnnxValueKind.Sequence => "sequence",
        OnnxValueKind.Map => "map",
        OnnxValueKind.Opaque => "opaque value",
        OnnxValueKind.SparseTensor => "sparse tensor",
        OnnxValueKind.Optional => "optional",
        _ => "value of unknown kind",
    };
}

/// <summary>
/// What a model takes and gives: its inputs and outputs in model order. Immutable; compare contracts
/// with <see cref="IsCompatibleWith"/> before swapping one model for another.
/// </summary>
public sealed class ModelContract
{
    public ModelContract(IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs)
    {
        Inputs = inputs;
        Outputs = outputs;
    }

    public IReadOnlyList<TensorSpec> Inputs { get; }

    public IReadOnlyList<TensorSpec> Outputs { get; }

    public TensorSpec? FindInput(string name) => Find(Inputs, name);

    public TensorSpec? FindOutput(string name) => Find(Outputs, name);

    public int IndexOfInput(string name) => IndexOf(Inputs, name);

    public int IndexOfOutput(string name) => IndexOf(Outputs, name);

    /// <summary>
    /// True when <paramref name="other"/> has the same inputs and outputs by name (order may differ) with
    /// the same kind, element type and shape. Otherwise <paramref name="difference"/> says what differs,
    /// e.g. "input 'x': [1,64] float32 became [1,32] float32".
    /// </summary>
    public bool IsCompatibleWith(ModelContract other, out string? difference)
    {
        difference = Compare("input", Inputs, other.Inputs) ?? Compare("output", Outputs, other.Outputs);
        return difference is null;
    }

    /// <summary>One line per input and output, e.g. "input x [1,64] float32".</summary>
    public override string ToString() =>
        string.Join("; ", Inputs.Select(i => $"input {i.Name} {i}").Concat(Outputs.Select(o => $"output {o.Name} {o}")));

    private static string? Compare(string what, IReadOnlyList<TensorSpec> mine, IReadOnlyList<TensorSpec> theirs)
    {
        foreach (var spec in mine)
        {
            var other = Find(theirs, spec.Name);
            if (other is null) return $"{what} '{spec.Name}' ({spec}) is missing from the new model";
            if (!spec.SameAs(other)) return $"{what} '{spec.Name}': {spec} became {other}";
        }
        foreach (var spec in theirs)
            if (Find(mine, spec.Name) is null) return $"the new model has an extra {what} '{spec.Name}' ({spec})";
        return null;
    }

    private static TensorSpec? Find(IReadOnlyList<TensorSpec> specs, string name)
    {
        int i = IndexOf(specs, name);
        return i < 0 ? null : specs[i];
    }

    private static int IndexOf(IReadOnlyList<TensorSpec> specs, string name)
    {
        for (int i = 0; i < specs.Count; i++)
            if (string.Equals(specs[i].Name, name, StringComparison.Ordinal)) return i;
        return -1;
    }
}

/// <summary>Model-level metadata from the ONNX <c>ModelProto</c> as ORT reports it.</summary>
/// <param name="ProducerName">e.g. "pytorch", "onnxruntime.quantization".</param>
/// <param name="GraphName">Name of the main graph.</param>
/// <param name="Domain">Model domain (reverse-DNS by convention).</param>
/// <param name="Description">The model's doc string.</param>
/// <param name="Version">The model_version field.</param>
/// <param name="CustomMetadata">metadata_props key/value pairs.</param>
public sealed record OnnxModelMetadata(
    string ProducerName,
    string GraphName,
    string Domain,
    string Description,
    long Version,
    IReadOnlyDictionary<string, string> CustomMetadata);
