namespace EdgeAgent.Onnx;

/// <summary>
/// One model serving in an <see cref="InferenceEngine"/>: the session, its binding and a reference count.
/// The engine holds one reference while the generation is current; every call holds one while it runs.
/// When the count reaches zero (after a swap or engine dispose, once in-flight calls return) the session
/// is released and <see cref="Released"/> completes. Acquire/release are lock-free and allocation-free.
/// </summary>
internal sealed class ModelGeneration
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _refs = 1; // the engine's reference

    public ModelGeneration(OnnxSession session, EngineBinding binding, long number)
    {
        Session = session;
        Binding = binding;
        Number = number;
        SessionPointer = session.Handle.DangerousGetHandle();
    }

    public OnnxSession Session { get; }

    public EngineBinding Binding { get; }

    public long Number { get; }

    /// <summary>The native session; valid while a reference is held.</summary>
    public nint SessionPointer { get; }

    public Task Released => _released.Task;

    /// <summary>Takes a reference unless the generation is already retired (count reached zero).</summary>
    public bool TryAddRef()
    {
        while (true)
        {
            int refs = Volatile.Read(ref _refs);
            if (refs == 0) return false;
            if (Interlocked.CompareExchange(ref _refs, refs + 1, refs) == refs) return true;
        }
    }

    /// <summary>
    /// Drops a reference. The last one releases the session: inline when <paramref name="inline"/> (the engine's own
    /// reference, dropped by Swap/Dispose on the caller's thread), otherwise on the thread pool, so the inference
    /// call that happens to finish last does not pay for tearing the session down.
    /// </summary>
    public void Release(bool inline = false)
    {
        int refs = Interlocked.Decrement(ref _refs);
        if (refs == 0)
        {
            if (inline) DisposeSession();
            else ThreadPool.UnsafeQueueUserWorkItem(static g => g.DisposeSession(), this, preferLocal: false);
        }
        else if (refs < 0)
        {
            throw new InvalidOperationException("model generation released more often than acquired");
        }
    }

    private void DisposeSession()
    {
        try { Session.Dispose(); }
        catch (Exception e) { _released.TrySetException(e); return; }
        _released.TrySetResult();
    }
}
