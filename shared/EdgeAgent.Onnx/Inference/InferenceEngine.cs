using System.Runtime.CompilerServices;

namespace EdgeAgent.Onnx;

/// <summary>
/// Serves one model at a time for many callers, with an allocation-free steady state and atomic hot swap.
/// </summary>
/// <remarks>
/// <para><b>Steady state.</b> Each caller rents an <see cref="InferenceLease"/> (<see cref="Rent"/>): private
/// input/output buffers in native memory with ORT values created over them once, plus pre-encoded UTF-8
/// names. <see cref="InferenceLease.Run()"/> then makes exactly one ORT call and allocates nothing. The
/// convenience <see cref="Run{TIn, TOut}(ReadOnlySpan{TIn}, Span{TOut})"/> rents, copies, runs and returns a
/// pooled lease, also without allocating.</para>
/// <para><b>Concurrency.</b> All members are thread-safe. Leases are single-caller; different leases run in
/// parallel on the same ORT session (ORT sessions are thread-safe for Run). Each lease has its own buffers,
/// so callers never see each other's data.</para>
/// <para><b>Hot swap.</b> <see cref="Swap"/> checks a new session (contract compatible, or explicitly accepted;
/// output shapes; one warm-up run), then switches atomically. Calls already running finish on the old model;
/// calls starting after the switch use the new one; nothing fails in between. The old session is released
/// when its last call returns (reference counting, <see cref="ModelSwapResult.PreviousReleased"/>).</para>
/// <para><b>Ownership.</b> The engine owns the sessions given to it (<see cref="Create"/>, a successful
/// <see cref="Swap"/>) and disposes them. <see cref="Dispose"/> stops new calls; running calls complete.</para>
/// </remarks>
public sealed class InferenceEngine : IDisposable
{
    private readonly InferenceEngineOptions _options;
    private readonly Lock _swapGate = new();
    private ModelGeneration? _current;
    private readonly string _firstSource;

    private InferenceEngine(OnnxSession session, EngineBinding binding, InferenceEngineOptions options)
    {
        _options = options;
        _firstSource = session.Source;
        _current = new ModelGeneration(session, binding, 1);
    }

    /// <summary>
    /// Creates an engine serving <paramref name="session"/>, binding its inputs to concrete shapes
    /// (<see cref="InferenceEngineOptions"/>) and, by default, running it once. Takes ownership of the session on
    /// success; on failure (e.g. <see cref="ModelContractException"/> for an unsupported contract) the caller keeps it.
    /// </summary>
    public static InferenceEngine Create(OnnxSession session, InferenceEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        options ??= InferenceEngineOptions.Default;
        var binding = EngineBinding.Create(session, options);
        var engine = new InferenceEngine(session, binding, options);
        if (options.WarmUp)
        {
            try { engine.WarmUp(session, binding); }
            catch { engine._current = null; throw; }
        }
        return engine;
    }

    /// <summary>Loads <paramref name="modelPath"/> and creates an engine for it (disposing the session if that fails).</summary>
    public static InferenceEngine Load(string modelPath, OnnxSessionOptions? sessionOptions = null, InferenceEngineOptions? options = null)
    {
        var session = OnnxSession.Load(modelPath, sessionOptions);
        try { return Create(session, options); }
        catch { session.Dispose(); throw; }
    }

    /// <summary>The contract of the model now serving.</summary>
    public ModelContract Contract => Current.Binding.Contract;

    /// <summary>Inputs as bound by this engine (concrete shapes), model order.</summary>
    public IReadOnlyList<TensorSpec> Inputs => Current.Binding.Inputs;

    /// <summary>Outputs as bound by this engine (concrete shapes), model order.</summary>
    public IReadOnlyList<TensorSpec> Outputs => Current.Binding.Outputs;

    /// <summary>Metadata of the model now serving.</summary>
    public OnnxModelMetadata Metadata => Current.Session.Metadata;

    /// <summary>Source (path) of the model now serving.</summary>
    public string Source => Volatile.Read(ref _current)?.Session.Source ?? _firstSource;

    /// <summary>1 for the first model, +1 per successful swap.</summary>
    public long Generation => Current.Number;

    /// <summary>
    /// Rents a lease with buffers for the current model: from the pool when one is idle (no allocation),
    /// otherwise a new one. Dispose the lease to return it.
    /// </summary>
    public InferenceLease Rent()
    {
        var binding = Current.Binding;
        var lease = binding.TryTakePooled() ?? new InferenceLease(this, binding);
        lease.MarkRented();
        return lease;
    }

    /// <summary>
    /// One inference for a model with one input and one output: copies <paramref name="input"/> into a pooled
    /// lease, runs, copies the result into <paramref name="output"/>. Allocation-free in the steady state.
    /// The lengths must equal the bound element counts (<see cref="ModelContractException"/> otherwise).
    /// </summary>
    public void Run<TIn, TOut>(ReadOnlySpan<TIn> input, Span<TOut> output)
        where TIn : unmanaged where TOut : unmanaged
    {
        var lease = Rent();
        try
        {
            RequireSingleInOut(lease);
            var target = lease.Input<TIn>(0);
            if (input.Length != target.Length) ThrowLength(lease.Inputs[0], "input", input.Length);
            var result = lease.Output<TOut>(0);
            if (output.Length != result.Length) ThrowLength(lease.Outputs[0], "output", output.Length);
            input.CopyTo(target);
            lease.Run();
            result.CopyTo(output);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Like <see cref="Run{TIn, TOut}(ReadOnlySpan{TIn}, Span{TOut})"/>, but first checks that
    /// <paramref name="inputShape"/> is the bound input shape, so a wrong window is reported as
    /// "model input 'x' expects [1,64] float32, got [1,63] float32".
    /// </summary>
    public void Run<TIn, TOut>(ReadOnlySpan<TIn> input, ReadOnlySpan<long> inputShape, Span<TOut> output)
        where TIn : unmanaged where TOut : unmanaged
    {
        var inputs = Current.Binding.Inputs;
        if (inputs.Length != 1)
            throw new ModelContractException($"this model has {inputs.Length} inputs; the single-tensor Run needs exactly one (rent a lease to use several)");
        var spec = inputs[0];
        if (!InferenceLease.Matches<TIn>(spec.ElementType) || !inputShape.SequenceEqual(spec.Shape))
            ThrowShape(spec, inputShape, typeof(TIn));
        Run(input, output);
    }

    /// <summary>
    /// Replaces the serving model with <paramref name="next"/>. Checks first, without disturbing running calls:
    /// the contract must be compatible (same inputs/outputs by name, type and shape) unless
    /// <paramref name="acceptContractChange"/> is true; output shapes must match; and the new model is run once
    /// when <see cref="InferenceEngineOptions.WarmUp"/> is on. Then switches atomically: in-flight calls finish
    /// on the old model, new calls use the new one, none fails. Takes ownership of <paramref name="next"/> on
    /// success; if a check fails it throws (<see cref="ModelContractException"/>, <see cref="OnnxRuntimeException"/>),
    /// the old model keeps serving, and the caller still owns <paramref name="next"/>. Swaps are serialized.
    /// </summary>
    public ModelSwapResult Swap(OnnxSession next, bool acceptContractChange = false)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_swapGate)
        {
            var current = Current;
            EngineBinding binding;
            bool changed = false;
            if (current.Binding.Fits(next, _options, out string? difference))
            {
                binding = current.Binding;
            }
            else if (acceptContractChange)
            {
                binding = EngineBinding.Create(next, _options);
                changed = true;
            }
            else
            {
                throw new ModelContractException(
                    $"model '{next.Source}' cannot replace '{current.Session.Source}': {difference}. " +
                    "The running model stays active; accept the contract change explicitly to switch anyway.");
            }

            if (_options.WarmUp) WarmUp(next, binding);

            var generation = new ModelGeneration(next, binding, current.Number + 1);
            var previous = Interlocked.CompareExchange(ref _current, generation, current);
            if (!ReferenceEquals(previous, current))
                throw new ObjectDisposedException(nameof(InferenceEngine));
            current.Release(inline: true); // the engine's reference; the session goes when the last in-flight call returns
            if (changed) current.Binding.DrainPool();
            return new ModelSwapResult(current.Number, generation.Number, changed, current.Session.Source, current.Released);
        }
    }

    /// <summary>Stops serving: new calls throw <see cref="ObjectDisposedException"/>, running calls finish, then the
    /// session is released. Pooled leases are freed. Idempotent.</summary>
    public void Dispose()
    {
        lock (_swapGate)
        {
            var current = Interlocked.Exchange(ref _current, null);
            if (current is null) return;
            current.Release(inline: true);
            current.Binding.DrainPool();
        }
    }

    /// <summary>Takes a reference on the serving generation (lock-free, allocation-free).</summary>
    internal ModelGeneration Acquire()
    {
        while (true)
        {
            var generation = Volatile.Read(ref _current);
            if (generation is null) ThrowDisposed();
            if (generation!.TryAddRef()) return generation;
            // Retired between the read and the add-ref: a swap completed; read the new one.
        }
    }

    internal void Return(InferenceLease lease)
    {
        var current = Volatile.Read(ref _current);
        if (current is null || !ReferenceEquals(current.Binding, lease.Binding) || !lease.Binding.TryPool(lease))
            lease.Release();
    }

    private ModelGeneration Current => Volatile.Read(ref _current) ?? ThrowDisposed();

    /// <summary>Runs <paramref name="session"/> once through a temporary lease with inputs of ones.</summary>
    private void WarmUp(OnnxSession session, EngineBinding binding)
    {
        var lease = new InferenceLease(this, binding);
        var generation = new ModelGeneration(session, binding, 0);
        try
        {
            lease.MarkRented();
            var inputs = binding.Inputs;
            for (int i = 0; i < inputs.Length; i++)
                lease.WriteInput(i, EngineBinding.OnesLike(inputs[i]).Data);
            lease.RunOn(generation);
        }
        finally
        {
            // The temporary generation is dropped without Release: it must not dispose the session it borrows.
            lease.Release();
        }
    }

    private static void RequireSingleInOut(InferenceLease lease)
    {
        if (lease.Inputs.Count != 1 || lease.Outputs.Count != 1)
            throw new ModelContractException(
                $"this model has {lease.Inputs.Count} inputs and {lease.Outputs.Count} outputs; " +
                "the single-tensor Run needs exactly one of each (rent a lease to use several)");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLength(TensorSpec spec, string what, int given) =>
        throw new ModelContractException(
            $"model {what} '{spec.Name}' is {spec} ({spec.ElementCount} values), got a buffer of {given} values");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShape(TensorSpec spec, ReadOnlySpan<long> dims, Type type) =>
        throw new ModelContractException(
            $"model input '{spec.Name}' expects {spec}, got {TensorSpec.FormatDims(dims)} {ClrTypeName(type)}");

    private static string ClrTypeName(Type t) =>
        t == typeof(float) ? "float32" : t == typeof(double) ? "float64" : t == typeof(sbyte) ? "int8" :
        t == typeof(byte) ? "uint8" : t == typeof(short) ? "int16" : t == typeof(ushort) ? "uint16" :
        t == typeof(int) ? "int32" : t == typeof(uint) ? "uint32" : t == typeof(long) ? "int64" :
        t == typeof(ulong) ? "uint64" : t == typeof(bool) ? "bool" : t == typeof(Half) ? "float16" : t.Name;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ModelGeneration ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(InferenceEngine), "the inference engine has been disposed");
}
