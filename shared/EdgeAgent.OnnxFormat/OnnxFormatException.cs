namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Thrown when bytes that should be an ONNX model, an ONNX <c>TensorProto</c>, a <c>.npy</c> file or a
/// JSON tensor are truncated, malformed or describe something this library does not support. The
/// message names the message/field and, for binary input, the byte offset so an operator can tell
/// a corrupt download from an unsupported model.
/// </summary>
public sealed class OnnxFormatException : FormatException
{
    public OnnxFormatException(string message) : base(message) { }

    public OnnxFormatException(string message, Exception inner) : base(message, inner) { }
}
