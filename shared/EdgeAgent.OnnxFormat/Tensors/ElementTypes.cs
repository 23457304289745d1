namespace EdgeAgent.OnnxFormat;

/// <summary>Facts about <see cref="OnnxElementType"/> values: storage size, names, CLR array type.</summary>
public static class ElementTypes
{
    /// <summary>Bytes per element in ONNX <c>raw_data</c> (0 for <see cref="OnnxElementType.String"/> and unknown types).</summary>
    public static int SizeOf(OnnxElementType type) => type switch
    {
        OnnxElementType.Float or OnnxElementType.Int32 or OnnxElementType.UInt32 => 4,
        OnnxElementType.Double or OnnxElementType.Int64 or OnnxElementType.UInt64 => 8,
        OnnxElementType.Int8 or OnnxElementType.UInt8 or OnnxElementType.Bool => 1,
        OnnxElementType.Int16 or OnnxElementType.UInt16 or OnnxElementType.Float16 => 2,
        _ => 0,
    };

    /// <summary>True for the types <see cref="OnnxTensor"/> can hold.</summary>
    public static bool IsSupported(OnnxElementType type) =>
        type is >= OnnxElementType.Float and <= OnnxElementType.UInt64;

    /// <summary>Short lower-case name used in messages and CLI output: <c>float32</c>, <c>int8</c>, ...;
    /// types outside the enum are printed as in ONNX (<c>bfloat16</c>, <c>float8e4m3fn</c>, ...) or by number.</summary>
    public static string Name(OnnxElementType type) => type switch
    {
        OnnxElementType.Float => "float32",
        OnnxElementType.UInt8 => "uint8",
        OnnxElementType.Int8 => "int8",
        OnnxElementType.UInt16 => "uint16",
        OnnxElementType.Int16 => "int16",
        OnnxElementType.Int32 => "int32",
        OnnxElementType.Int64 => "int64",
        OnnxElementType.String => "string",
        OnnxElementType.Bool => "bool",
        OnnxElementType.Float16 => "float16",
        OnnxElementType.Double => "float64",
        OnnxElementType.UInt32 => "uint32",
        OnnxElementType.UInt64 => "uint64",
        OnnxElementType.Undefined => "undefined",
        // TensorProto.DataType values past UINT64 (onnx.proto): complex, bfloat16, float8, 4-bit types.
        (OnnxElementType)14 => "complex64",
        (OnnxElementType)15 => "complex128",
        (OnnxElementType)16 => "bfloat16",
        (OnnxElementType)17 => "float8e4m3fn",
        (OnnxElementType)18 => "float8e4m3fnuz",
        (OnnxElementType)19 => "float8e5m2",
        (OnnxElementType)20 => "float8e5m2fnuz",
        (OnnxElementType)21 => "uint4",
        (OnnxElementType)22 => "int4",
        (OnnxElementType)23 => "float4e2m1",
        _ => $"type{(int)type}",
    };

    /// <summary>Parses names as printed by <see cref="Name"/> plus common aliases (<c>float</c>, <c>double</c>, <c>f32</c>, <c>half</c>).</summary>
    public static bool TryParse(string text, out OnnxElementType type)
    {
        type = text.Trim().ToLowerInvariant() switch
        {
            "float32" or "float" or "f32" => OnnxElementType.Float,
            "float64" or "double" or "f64" => OnnxElementType.Double,
            "float16" or "half" or "f16" => OnnxElementType.Float16,
            "int8" or "i8" => OnnxElementType.Int8,
            "uint8" or "u8" => OnnxElementType.UInt8,
            "int16" or "i16" => OnnxElementType.Int16,
            "uint16" or "u16" => OnnxElementType.UInt16,
            "int32" or "i32" => OnnxElementType.Int32,
            "uint32" or "u32" => OnnxElementType.UInt32,
            "int64" or "i64" => OnnxElementType.Int64,
            "uint64" or "u64" => OnnxElementType.UInt64,
            "bool" => OnnxElementType.Bool,
            "string" => OnnxElementType.String,
            _ => OnnxElementType.Undefined,
        };
        return type != OnnxElementType.Undefined;
    }
}
