namespace EdgeAgent.OnnxFormat;

/// <summary>
/// One dimension of a value's shape (onnx.proto, TensorShapeProto.Dimension): a fixed size
/// (<c>dim_value</c>), a symbolic name such as <c>"batch"</c> (<c>dim_param</c>), or unknown (neither).
/// Converts implicitly from <see cref="long"/> and <see cref="string"/> so shapes read naturally:
/// <c>new OnnxDim[] { "batch", 64 }</c>.
/// </summary>
public readonly record struct OnnxDim
{
    private OnnxDim(long? value, string? param)
    {
        Value = value;
        Param = param;
    }

    /// <summary>The fixed size, or null for symbolic/unknown dimensions.</summary>
    public long? Value { get; }

    /// <summary>The symbolic name, or null.</summary>
    public string? Param { get; }

    public bool IsFixed => Value.HasValue;

    public static OnnxDim Unknown => default;

    public static OnnxDim Fixed(long value) =>
        value >= 0 ? new(value, null) : throw new ArgumentOutOfRangeException(nameof(value), value, "A dimension cannot be negative.");

    public static OnnxDim Symbolic(string name) =>
        string.IsNullOrEmpty(name) ? throw new ArgumentException("A symbolic dimension needs a name.", nameof(name)) : new(null, name);

    public static implicit operator OnnxDim(long value) => Fixed(value);

    public static implicit operator OnnxDim(string name) => Symbolic(name);

    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Param ?? "?";

    /// <summary>Formats a shape as <c>[batch,64]</c>; null (unknown rank) as <c>?</c>.</summary>
    public static string Format(IReadOnlyList<OnnxDim>? shape) => shape is null ? "?" : $"[{string.Join(',', shape)}]";
}
