namespace EdgeAgent.Onnx;

/// <summary>
/// A call into ONNX Runtime returned a non-null <c>OrtStatus</c>. Carries ORT's own code and message
/// unchanged (<see cref="ErrorCode"/>, <see cref="OrtMessage"/>) and, in <see cref="Exception.Message"/>,
/// what EdgeAgent was doing when it failed (e.g. "loading model '/var/lib/edgeagent/a/model.onnx'").
/// </summary>
public sealed class OnnxRuntimeException : Exception
{
    public OnnxRuntimeException(OrtErrorCode errorCode, string ortMessage, string operation)
        : base($"{operation} failed: ONNX Runtime {Describe(errorCode)}: {ortMessage}")
    {
        ErrorCode = errorCode;
        OrtMessage = ortMessage;
        Operation = operation;
    }

    /// <summary>ORT's error code (<c>OrtErrorCode</c>).</summary>
    public OrtErrorCode ErrorCode { get; }

    /// <summary>ORT's message, verbatim.</summary>
    public string OrtMessage { get; }

    /// <summary>What was being done, e.g. "running model 'x.onnx'".</summary>
    public string Operation { get; }

    internal static string Describe(OrtErrorCode code) => code switch
    {
        OrtErrorCode.Fail => "ORT_FAIL",
        OrtErrorCode.InvalidArgument => "ORT_INVALID_ARGUMENT",
        OrtErrorCode.NoSuchFile => "ORT_NO_SUCHFILE",
        OrtErrorCode.NoModel => "ORT_NO_MODEL",
        OrtErrorCode.EngineError => "ORT_ENGINE_ERROR",
        OrtErrorCode.RuntimeException => "ORT_RUNTIME_EXCEPTION",
        OrtErrorCode.InvalidProtobuf => "ORT_INVALID_PROTOBUF",
        OrtErrorCode.ModelLoaded => "ORT_MODEL_LOADED",
        OrtErrorCode.NotImplemented => "ORT_NOT_IMPLEMENTED",
        OrtErrorCode.InvalidGraph => "ORT_INVALID_GRAPH",
        OrtErrorCode.EpFail => "ORT_EP_FAIL",
        OrtErrorCode.ModelLoadCanceled => "ORT_MODEL_LOAD_CANCELED",
        OrtErrorCode.ModelRequiresCompilation => "ORT_MODEL_REQUIRES_COMPILATION",
        OrtErrorCode.NotFound => "ORT_NOT_FOUND",
        _ => $"error {(int)code}",
    };
}

/// <summary>
/// The ONNX Runtime native library could not be found, could not be loaded, is too old for the API
/// version EdgeAgent needs, or failed the start-up self-check of its function table. The message names
/// every path searched and what went wrong with each, so an operator can fix the installation.
/// </summary>
public sealed class OnnxRuntimeLoadException : Exception
{
    public OnnxRuntimeLoadException(string message, IReadOnlyList<string> searched, Exception? inner = null)
        : base(message, inner)
    {
        Searched = searched;
    }

    /// <summary>One line per candidate tried: the path or loader name and the outcome.</summary>
    public IReadOnlyList<string> Searched { get; }
}

/// <summary>
/// Inputs given to a model do not match its contract (unknown or missing name, element type, rank or
/// dimension), or an inference lease no longer matches the engine's model. The message is written for
/// an operator, e.g. <c>model input 'x' expects [1,64] float32, got [1,63] float32</c>.
/// </summary>
public sealed class ModelContractException : Exception
{
    public ModelContractException(string message) : base(message) { }
}
