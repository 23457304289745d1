namespace EdgeAgent.OnnxFormat;

/// <summary>How numeric tensor data is stored in a <c>TensorProto</c> (onnx.proto, message TensorProto).</summary>
public enum TensorDataEncoding
{
    /// <summary><c>raw_data</c> (field 9), little-endian packed bytes: what exporters and ORT prefer.</summary>
    Raw,
    /// <summary>The typed repeated fields (<c>float_data</c>, <c>int32_data</c>, <c>int64_data</c>, <c>double_data</c>, <c>uint64_data</c>).</summary>
    Typed,
}
