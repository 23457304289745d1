using System.Runtime.CompilerServices;

namespace EdgeAgent.Onnx.Native;

/// <summary>Turns <c>OrtStatus*</c> results into <see cref="OnnxRuntimeException"/>s, releasing the status exactly once.</summary>
internal static unsafe class OrtStatus
{
    /// <summary>
    /// Throws when <paramref name="status"/> is not null. Allocation-free on success: the operation text is
    /// only formatted on failure (<paramref name="operation"/> and <paramref name="subject"/> are existing strings).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(OrtApi api, nint status, string operation, string? subject = null)
    {
        if (status != 0) Throw(api, status, operation, subject);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(OrtApi api, nint status, string operation, string? subject) =>
        throw ToException(api, status, operation, subject);

    /// <summary>Reads code and message, releases the status, returns the exception (not thrown).</summary>
    public static OnnxRuntimeException ToException(OrtApi api, nint status, string operation, string? subject = null)
    {
        OrtErrorCode code;
        string message;
        try
        {
            code = (OrtErrorCode)api.GetErrorCode(status);
            message = OrtApi.ReadUtf8(api.GetErrorMessage(status)) ?? "(no message)";
        }
        finally
        {
            api.ReleaseStatus(status);
        }
        string what = subject is null ? operation : $"{operation} '{subject}'";
        return new OnnxRuntimeException(code, message, what);
    }
}
