namespace EdgeAgent.OnnxFormat;

/// <summary>What kind of value a graph input/output is (onnx.proto, TypeProto's <c>value</c> oneof).</summary>
public enum OnnxTypeKind
{
    Unknown = 0,
    Tensor,
    SparseTensor,
    Sequence,
    Map,
    Optional,
}

/// <summary>
/// A graph input or output (onnx.proto, ValueInfoProto): name, element type and shape. A null
/// <see cref="Shape"/> means the rank is unknown; an empty one is a scalar. Equality compares the shape element-wise.
/// </summary>
public sealed record OnnxValueInfo(string Name, OnnxElementType ElementType, IReadOnlyList<OnnxDim>? Shape, OnnxTypeKind Kind = OnnxTypeKind.Tensor)
{
    /// <summary>True when every dimension is fixed (the rank is known and no dim is symbolic/unknown).</summary>
    public bool HasFixedShape => Shape is not null && Shape.All(d => d.IsFixed);

    /// <summary>Structural equality: same name, kind, element type and dimensions (the shape list compared element-wise).</summary>
    public bool Equals(OnnxValueInfo? other) =>
        other is not null && Name == other.Name && Kind == other.Kind && ElementType == other.ElementType &&
        (Shape is null ? other.Shape is null : other.Shape is not null && Shape.SequenceEqual(other.Shape));

    public override int GetHashCode() => HashCode.Combine(Name, Kind, ElementType, Shape?.Count ?? -1);

    /// <summary><c>name: float32[batch,64]</c>.</summary>
    public override string ToString() => Kind switch
    {
        OnnxTypeKind.Tensor => $"{Name}: {ElementTypes.Name(ElementType)}{OnnxDim.Format(Shape)}",
        OnnxTypeKind.SparseTensor => $"{Name}: sparse {ElementTypes.Name(ElementType)}{OnnxDim.Format(Shape)}",
        _ => $"{Name}: {Kind.ToString().ToLowerInvariant()}",
    };
}
