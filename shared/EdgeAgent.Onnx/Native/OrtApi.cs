using System.Runtime.InteropServices;

namespace EdgeAgent.Onnx.Native;

/// <summary>
/// The slice of ONNX Runtime's <c>OrtApi</c> function table that EdgeAgent uses, read once from the
/// table pointer returned by <c>OrtGetApiBase()->GetApi(version)</c> and called through
/// <c>delegate* unmanaged</c> pointers (no marshalling stubs, Native AOT safe).
/// </summary>
/// <remarks>
/// Slot numbers are positions in <c>struct OrtApi</c> (include/onnxruntime/core/session/onnxruntime_c_api.h):
/// every <c>ORT_API2_STATUS</c>, <c>ORT_CLASS_RELEASE</c> and plain function pointer takes one slot, in
/// declaration order. The table only grows at its end (ORT's "DO NOT MODIFY ABOVE" rule, checked by
/// static_asserts in onnxruntime_c_api.cc: API v4 ends at slot 126, v5 at 149), so a table for API
/// version <see cref="MinimumApiVersion"/> from any later library has the same slots.
/// All C enums (OrtErrorCode, ONNXTensorElementDataType, GraphOptimizationLevel, ...) are passed as int.
/// Every <c>nint</c> returned by an <c>ORT_API2_STATUS</c> function is an <c>OrtStatus*</c>; 0 means success.
/// </remarks>
internal sealed unsafe class OrtApi
{
    /// <summary>
    /// API version requested from GetApi. The highest slot used is AddSessionConfigEntry (130), which
    /// arrived with API version 5 (ONNX Runtime 1.5), so any library from 1.5 on loads.
    /// </summary>
    public const uint MinimumApiVersion = 5;

    public readonly delegate* unmanaged<int, byte*, nint> CreateStatus;                       // 0
    public readonly delegate* unmanaged<nint, int> GetErrorCode;                              // 1
    public readonly delegate* unmanaged<nint, byte*> GetErrorMessage;                         // 2
    public readonly delegate* unmanaged<int, byte*, nint*, nint> CreateEnv;                   // 3
    public readonly delegate* unmanaged<nint, byte*, nint, nint*, nint> CreateSession;        // 7
    public readonly delegate* unmanaged<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray; // 8
    public readonly delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run; // 9
    public readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;                    // 10
    public readonly delegate* unmanaged<nint, byte*, nint> SetOptimizedModelFilePath;         // 11
    public readonly delegate* unmanaged<nint, int, nint> SetSessionExecutionMode;             // 13
    public readonly delegate* unmanaged<nint, nint> EnableCpuMemArena;                        // 18
    public readonly delegate* unmanaged<nint, nint> DisableCpuMemArena;                       // 19
    public readonly delegate* unmanaged<nint, byte*, nint> SetSessionLogId;                   // 20
    public readonly delegate* unmanaged<nint, int, nint> SetSessionLogSeverityLevel;          // 22
    public readonly delegate* unmanaged<nint, int, nint> SetSessionGraphOptimizationLevel;    // 23
    public readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;                // 24
    public readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;                // 25
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;             // 30
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;            // 31
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;    // 33
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;   // 34
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetInputName; // 36
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetOutputName;// 37
    public readonly delegate* unmanaged<nint*, nint> CreateRunOptions;                        // 39
    public readonly delegate* unmanaged<nint, int, nint> RunOptionsSetRunLogSeverityLevel;    // 41
    public readonly delegate* unmanaged<nint, nint> RunOptionsSetTerminate;                   // 46
    public readonly delegate* unmanaged<nint, nint> RunOptionsUnsetTerminate;                 // 47
    public readonly delegate* unmanaged<nint, long*, nuint, int, nint*, nint> CreateTensorAsOrtValue; // 48
    public readonly delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue; // 49
    public readonly delegate* unmanaged<nint, int*, nint> IsTensor;                           // 50
    public readonly delegate* unmanaged<nint, void**, nint> GetTensorMutableData;             // 51
    public readonly delegate* unmanaged<nint, byte**, nuint, nint> FillStringTensor;          // 52
    public readonly delegate* unmanaged<nint, nuint*, nint> GetStringTensorDataLength;        // 53
    public readonly delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint> GetStringTensorContent; // 54
    public readonly delegate* unmanaged<nint, nint*, nint> CastTypeInfoToTensorInfo;          // 55
    public readonly delegate* unmanaged<nint, int*, nint> GetOnnxTypeFromTypeInfo;            // 56
    public readonly delegate* unmanaged<nint, int*, nint> GetTensorElementType;               // 60
    public readonly delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount;               // 61
    public readonly delegate* unmanaged<nint, long*, nuint, nint> GetDimensions;              // 62
    public readonly delegate* unmanaged<nint, byte**, nuint, nint> GetSymbolicDimensions;     // 63
    public readonly delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape;             // 65
    public readonly delegate* unmanaged<nint, int*, nint> GetValueType;                       // 67
    public readonly delegate* unmanaged<int, int, nint*, nint> CreateCpuMemoryInfo;           // 69
    public readonly delegate* unmanaged<nint, void*, nint> AllocatorFree;                     // 76
    public readonly delegate* unmanaged<nint*, nint> GetAllocatorWithDefaultOptions;          // 78
    public readonly delegate* unmanaged<nint, void> ReleaseEnv;                               // 92
    public readonly delegate* unmanaged<nint, void> ReleaseStatus;                            // 93
    public readonly delegate* unmanaged<nint, void> ReleaseMemoryInfo;                        // 94
    public readonly delegate* unmanaged<nint, void> ReleaseSession;                           // 95
    public readonly delegate* unmanaged<nint, void> ReleaseValue;                             // 96
    public readonly delegate* unmanaged<nint, void> ReleaseRunOptions;                        // 97
    public readonly delegate* unmanaged<nint, void> ReleaseTypeInfo;                          // 98
    public readonly delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo;            // 99
    public readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;                    // 100
    public readonly delegate* unmanaged<nint, nint*, nint> SessionGetModelMetadata;           // 111
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetProducerName;   // 112
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetGraphName;      // 113
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetDomain;         // 114
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetDescription;    // 115
    public readonly delegate* unmanaged<nint, nint, byte*, byte**, nint> ModelMetadataLookupCustomMetadataMap; // 116
    public readonly delegate* unmanaged<nint, long*, nint> ModelMetadataGetVersion;           // 117
    public readonly delegate* unmanaged<nint, void> ReleaseModelMetadata;                     // 118
    public readonly delegate* unmanaged<nint, nint, byte***, long*, nint> ModelMetadataGetCustomMetadataMapKeys; // 123
    public readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;      // 130

    public OrtApi(nint table)
    {
        var slots = (nint*)table;
        CreateStatus = (delegate* unmanaged<int, byte*, nint>)slots[0];
        GetErrorCode = (delegate* unmanaged<nint, int>)slots[1];
        GetErrorMessage = (delegate* unmanaged<nint, byte*>)slots[2];
        CreateEnv = (delegate* unmanaged<int, byte*, nint*, nint>)slots[3];
        CreateSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)slots[7];
        CreateSessionFromArray = (delegate* unmanaged<nint, void*, nuint, nint, nint*, nint>)slots[8];
        Run = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)slots[9];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)slots[10];
        SetOptimizedModelFilePath = (delegate* unmanaged<nint, byte*, nint>)slots[11];
        SetSessionExecutionMode = (delegate* unmanaged<nint, int, nint>)slots[13];
        EnableCpuMemArena = (delegate* unmanaged<nint, nint>)slots[18];
        DisableCpuMemArena = (delegate* unmanaged<nint, nint>)slots[19];
        SetSessionLogId = (delegate* unmanaged<nint, byte*, nint>)slots[20];
        SetSessionLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)slots[22];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)slots[23];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)slots[24];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)slots[25];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)slots[30];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)slots[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)slots[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)slots[34];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)slots[36];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)slots[37];
        CreateRunOptions = (delegate* unmanaged<nint*, nint>)slots[39];
        RunOptionsSetRunLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)slots[41];
        RunOptionsSetTerminate = (delegate* unmanaged<nint, nint>)slots[46];
        RunOptionsUnsetTerminate = (delegate* unmanaged<nint, nint>)slots[47];
        CreateTensorAsOrtValue = (delegate* unmanaged<nint, long*, nuint, int, nint*, nint>)slots[48];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)slots[49];
        IsTensor = (delegate* unmanaged<nint, int*, nint>)slots[50];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)slots[51];
        FillStringTensor = (delegate* unmanaged<nint, byte**, nuint, nint>)slots[52];
        GetStringTensorDataLength = (delegate* unmanaged<nint, nuint*, nint>)slots[53];
        GetStringTensorContent = (delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint>)slots[54];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)slots[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, int*, nint>)slots[56];
        GetTensorElementType = (delegate* unmanaged<nint, int*, nint>)slots[60];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)slots[61];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)slots[62];
        GetSymbolicDimensions = (delegate* unmanaged<nint, byte**, nuint, nint>)slots[63];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)slots[65];
        GetValueType = (delegate* unmanaged<nint, int*, nint>)slots[67];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)slots[69];
        AllocatorFree = (delegate* unmanaged<nint, void*, nint>)slots[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)slots[78];
        ReleaseEnv = (delegate* unmanaged<nint, void>)slots[92];
        ReleaseStatus = (delegate* unmanaged<nint, void>)slots[93];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)slots[94];
        ReleaseSession = (delegate* unmanaged<nint, void>)slots[95];
        ReleaseValue = (delegate* unmanaged<nint, void>)slots[96];
        ReleaseRunOptions = (delegate* unmanaged<nint, void>)slots[97];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)slots[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)slots[99];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)slots[100];
        SessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)slots[111];
        ModelMetadataGetProducerName = (delegate* unmanaged<nint, nint, byte**, nint>)slots[112];
        ModelMetadataGetGraphName = (delegate* unmanaged<nint, nint, byte**, nint>)slots[113];
        ModelMetadataGetDomain = (delegate* unmanaged<nint, nint, byte**, nint>)slots[114];
        ModelMetadataGetDescription = (delegate* unmanaged<nint, nint, byte**, nint>)slots[115];
        ModelMetadataLookupCustomMetadataMap = (delegate* unmanaged<nint, nint, byte*, byte**, nint>)slots[116];
        ModelMetadataGetVersion = (delegate* unmanaged<nint, long*, nint>)slots[117];
        ReleaseModelMetadata = (delegate* unmanaged<nint, void>)slots[118];
        ModelMetadataGetCustomMetadataMapKeys = (delegate* unmanaged<nint, nint, byte***, long*, nint>)slots[123];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)slots[130];
    }

    /// <summary>Reads a NUL-terminated UTF-8 string owned by ORT (not freed here).</summary>
    public static string? ReadUtf8(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);
}
