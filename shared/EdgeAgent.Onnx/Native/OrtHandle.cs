using System.Runtime.InteropServices;

namespace EdgeAgent.Onnx.Native;

/// <summary>
/// Owns one ORT object (session, value, options, ...) and releases it exactly once with the matching
/// <c>OrtApi::ReleaseX</c> function: on <see cref="SafeHandle.Dispose()"/>, or from the finalizer if the
/// owner was never disposed. SafeHandle's reference counting also keeps the object alive while a
/// P/Invoke-free call holding <see cref="SafeHandle.DangerousAddRef"/> is in flight.
/// </summary>
internal sealed unsafe class OrtHandle : SafeHandle
{
    private readonly delegate* unmanaged<nint, void> _release;

    public OrtHandle(nint handle, delegate* unmanaged<nint, void> release) : base(0, ownsHandle: true)
    {
        _release = release;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>The raw pointer; valid only while this handle is alive and not disposed.</summary>
    public nint Pointer => handle;

    protected override bool ReleaseHandle()
    {
        _release(handle);
        return true;
    }
}

/// <summary>A block of native memory (NativeMemory.AlignedAlloc) freed exactly once, also from the finalizer.</summary>
internal sealed unsafe class NativeBlock : SafeHandle
{
    public NativeBlock(nuint bytes, nuint alignment = 64) : base(0, ownsHandle: true)
    {
        SetHandle((nint)NativeMemory.AlignedAlloc(bytes == 0 ? 1 : bytes, alignment));
        NativeMemory.Clear((void*)handle, bytes == 0 ? 1 : bytes);
        Length = bytes;
    }

    public nuint Length { get; }

    public override bool IsInvalid => handle == 0;

    public void* Pointer => (void*)handle;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
