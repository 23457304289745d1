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

    public void Release()
    {
        int refs = Interlocked.Decrement(ref _refs);
        if (refs == 0)
        {
            try { Session.Dispose(); }
            finally { _released.TrySetResult(); }
        }
        else if (refs < 0)
        {
            throw new InvalidOperationException("model generation released more often than acquired");
        }
    }
}
