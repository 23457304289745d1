namespace EdgeAgent.Onnx;

/// <summary>
/// ONNX Runtime's <c>OrtErrorCode</c>, as carried by every failed <c>OrtStatus</c>
/// (onnxruntime_c_api.h; values past <see cref="EpFail"/> come from newer libraries).
/// </summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    EpFail = 11,
    ModelLoadCanceled = 12,
    ModelRequiresCompilation = 13,
    NotFound = 14,
}
