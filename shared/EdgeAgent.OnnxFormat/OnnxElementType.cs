namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Tensor element types with the numbering of ONNX <c>TensorProto.DataType</c>, which ONNX Runtime's
/// <c>ONNXTensorElementDataType</c> shares, so the value crosses the C API unchanged.
/// </summary>
public enum OnnxElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
}
