using System.Runtime.CompilerServices;
using EdgeAgent.Onnx.Native;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Onnx;

/// <summary>
/// A caller's private set of input and output buffers for an <see cref="InferenceEngine"/>, with ORT
/// values created over them once, so <see cref="Run()"/> allocates nothing: write the inputs through
/// <see cref="Input{T}(int)"/>, call <see cref="Run()"/>, read <see cref="Output{T}(int)"/>.
/// </summary>
/// <remarks>
/// Thread safety: a lease is used by one thread at a time; different leases of one engine may run
/// concurrently. Rent one per worker and keep it (renting is cheap and allocation-free once the pool is
/// warm, but it is not free). Spans returned by Input/Output point into native memory owned by the lease:
/// do not use them after <see cref="Dispose"/>.
/// Hot swap: a lease follows the engine to a new model with the same contract transparently; after a swap
/// that changed the contract, <see cref="Run()"/> throws <see cref="ModelContractException"/> and the lease
/// must be disposed and a new one rented.
/// Dispose returns the lease to the engine's pool; a lease that is never disposed is freed by finalizers.
/// </remarks>
public sealed unsafe class InferenceLease : IDisposable
{
    private readonly InferenceEngine _engine;
    private readonly EngineBinding _binding;
    private readonly OrtApi _api;
    private readonly NativeBlock[] _inputBuffers;
    private readonly NativeBlock[] _outputBuffers;
    private readonly OrtHandle[] _values;      // inputs then outputs
    private readonly NativeBlock _valuePointers; // nint[inputs + outputs] for Run
    private readonly Utf8NameArray _names;      // inputs then outputs
    private readonly OrtHandle _runOptions;
    private volatile bool _terminateRequested;
    private int _rented;
    private bool _released;

    internal InferenceLease(InferenceEngine engine, EngineBinding binding)
    {
        _engine = engine;
        _binding = binding;
        var rt = OnnxRuntime.Instance;
        _api = rt.Library.Api;
        int nIn = binding.Inputs.Length, nOut = binding.Outputs.Length;
        _inputBuffers = new NativeBlock[nIn];
        _outputBuffers = new NativeBlock[nOut];
        _values = new OrtHandle[nIn + nOut];
        _valuePointers = new NativeBlock((nuint)((nIn + nOut) * sizeof(nint)));
        _names = new Utf8NameArray(binding.Inputs.Select(i => i.Name).Concat(binding.Outputs.Select(o => o.Name)).ToArray());
        nint runOptions;
        OrtStatus.Check(_api, _api.CreateRunOptions(&runOptions), "creating run options for", engine.Source);
        _runOptions = new OrtHandle(runOptions, _api.ReleaseRunOptions);

        var pointers = (nint*)_valuePointers.Pointer;
        for (int i = 0; i < nIn + nOut; i++)
        {
            var spec = i < nIn ? binding.Inputs[i] : binding.Outputs[i - nIn];
            nuint bytes = (nuint)(spec.ElementCount!.Value * ElementTypes.SizeOf(spec.ElementType));
            var block = new NativeBlock(bytes);
            if (i < nIn) _inputBuffers[i] = block; else _outputBuffers[i - nIn] = block;
            nint value = OrtTensors.CreateOver(_api, rt.CpuMemoryInfo, block.Pointer, bytes, spec.Shape, spec.ElementType, spec.Name);
            _values[i] = new OrtHandle(value, _api.ReleaseValue);
            pointers[i] = value;
        }
    }

    /// <summary>The inputs this lease feeds, with the concrete shapes of its buffers, in model order.</summary>
    public IReadOnlyList<TensorSpec> Inputs => _binding.Inputs;

    /// <summary>The outputs this lease receives, with concrete shapes, in model order.</summary>
    public IReadOnlyList<TensorSpec> Outputs => _binding.Outputs;

    internal EngineBinding Binding => _binding;

    /// <summary>The buffer of input <paramref name="index"/> (model order); <typeparamref name="T"/> must match its element type
    /// (float32→float, float64→double, int8→sbyte, uint8→byte, int16→short, uint16→ushort, int32→int, uint32→uint,
    /// int64→long, uint64→ulong, bool→bool, float16→Half).</summary>
    public Span<T> Input<T>(int index) where T : unmanaged
    {
        ThrowIfNotRented();
        var spec = _binding.Inputs[index];
        CheckType<T>(spec, "input");
        return new Span<T>(_inputBuffers[index].Pointer, (int)spec.ElementCount!.Value);
    }

    /// <summary>The buffer of the input called <paramref name="name"/>.</summary>
    public Span<T> Input<T>(string name) where T : unmanaged => Input<T>(IndexOf(_binding.Inputs, name, "input"));

    /// <summary>The buffer of output <paramref name="index"/> (model order), valid after <see cref="Run()"/>.</summary>
    public ReadOnlySpan<T> Output<T>(int index) where T : unmanaged
    {
        ThrowIfNotRented();
        var spec = _binding.Outputs[index];
        CheckType<T>(spec, "output");
        return new ReadOnlySpan<T>(_outputBuffers[index].Pointer, (int)spec.ElementCount!.Value);
    }

    /// <summary>The buffer of the output called <paramref name="name"/>.</summary>
    public ReadOnlySpan<T> Output<T>(string name) where T : unmanaged => Output<T>(IndexOf(_binding.Outputs, name, "output"));

    /// <summary>
    /// Copies <paramref name="tensor"/> into the input of the same name after checking its element type and shape
    /// against the bound input (<see cref="ModelContractException"/> with an operator-readable message otherwise).
    /// Convenience for diagnostics and tests; allocation-free apart from error messages.
    /// </summary>
    public void SetInput(OnnxTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ThrowIfNotRented();
        int index = IndexOf(_binding.Inputs, tensor.Name, "input");
        var spec = _binding.Inputs[index];
        if (spec.ElementType != tensor.ElementType || !tensor.Dims.AsSpan().SequenceEqual(spec.Shape))
            throw new ModelContractException(
                $"model input '{spec.Name}' expects {spec}, got {TensorSpec.FormatDims(tensor.Dims)} {ElementTypes.Name(tensor.ElementType)}");
        WriteInput(index, tensor.Data);
    }

    /// <summary>Copies output <paramref name="index"/> into a new <see cref="OnnxTensor"/> (allocates; for diagnostics).</summary>
    public OnnxTensor GetOutput(int index)
    {
        ThrowIfNotRented();
        var spec = _binding.Outputs[index];
        var tensor = OnnxTensor.Zeros(spec.Name, spec.ElementType, spec.Shape);
        var target = TensorBytes.Of(tensor.Data);
        new ReadOnlySpan<byte>(_outputBuffers[index].Pointer, target.Length).CopyTo(target);
        return tensor;
    }

    /// <summary>Copies the output called <paramref name="name"/> into a new <see cref="OnnxTensor"/>.</summary>
    public OnnxTensor GetOutput(string name) => GetOutput(IndexOf(_binding.Outputs, name, "output"));

    /// <summary>
    /// Runs the engine's current model on this lease's inputs into its outputs. Allocation-free when it
    /// succeeds. Throws <see cref="OnnxRuntimeException"/> when ORT fails, <see cref="OperationCanceledException"/>
    /// after <see cref="Terminate"/>, <see cref="ModelContractException"/> when the engine's model changed
    /// contract, <see cref="ObjectDisposedException"/> when the lease was returned or the engine disposed.
    /// </summary>
    public void Run()
    {
        ThrowIfNotRented();
        var generation = _engine.Acquire();
        try
        {
            RunOn(generation);
        }
        finally
        {
            generation.Release();
        }
    }

    /// <summary>One ORT Run on <paramref name="generation"/>, whose reference the caller holds.</summary>
    internal void RunOn(ModelGeneration generation)
    {
        if (!ReferenceEquals(generation.Binding, _binding))
            throw ContractChanged(generation);
        int nIn = _binding.Inputs.Length;
        var values = (nint*)_valuePointers.Pointer;
        nint status = _api.Run(generation.SessionPointer, _runOptions.Pointer, _names.Pointers, values, (nuint)nIn,
            _names.Pointers + nIn, (nuint)_binding.Outputs.Length, values + nIn);
        if (status != 0) ThrowRunFailed(status, generation);
        GC.KeepAlive(this);
    }

    /// <summary>Copies a managed array (type matching the input) into input <paramref name="index"/>.</summary>
    internal void WriteInput(int index, Array data)
    {
        var source = TensorBytes.Of(data);
        var target = new Span<byte>(_inputBuffers[index].Pointer, (int)_inputBuffers[index].Length);
        source.CopyTo(target);
    }

    /// <summary>
    /// <see cref="Run()"/> that can be cancelled: cancelling <paramref name="cancellationToken"/> terminates the
    /// run inside ORT (<c>RunOptionsSetTerminate</c>). Registering the token allocates when it can be cancelled.
    /// </summary>
    public void Run(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.CanBeCanceled)
        {
            Run();
            return;
        }
        using var registration = cancellationToken.UnsafeRegister(static s => ((InferenceLease)s!).Terminate(), this);
        Run();
    }

    /// <summary>
    /// Aborts the run in progress on this lease, or the next one if none is running: it fails with
    /// <see cref="OperationCanceledException"/>, and the run after that proceeds normally. Callable from any thread.
    /// </summary>
    public void Terminate()
    {
        _terminateRequested = true;
        nint status = _api.RunOptionsSetTerminate(_runOptions.Pointer);
        if (status != 0) _api.ReleaseStatus(status);
    }

    /// <summary>Returns the lease to the engine's pool (or releases it). Idempotent; do not use the lease afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _rented, 0) == 0) return;
        _engine.Return(this);
    }

    internal void MarkRented() => Volatile.Write(ref _rented, 1);

    /// <summary>Frees the native buffers and values. Called by the pool or engine when the lease is not coming back.</summary>
    internal void Release()
    {
        if (_released) return;
        _released = true;
        foreach (var v in _values) v?.Dispose();
        foreach (var b in _inputBuffers) b?.Dispose();
        foreach (var b in _outputBuffers) b?.Dispose();
        _valuePointers.Dispose();
        _names.Dispose();
        _runOptions.Dispose();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowRunFailed(nint status, ModelGeneration generation)
    {
        var error = OrtStatus.ToException(_api, status, "running model", generation.Session.Source);
        if (_terminateRequested)
        {
            _terminateRequested = false;
            nint unset = _api.RunOptionsUnsetTerminate(_runOptions.Pointer);
            if (unset != 0) _api.ReleaseStatus(unset);
            throw new OperationCanceledException($"running model '{generation.Session.Source}' was terminated", error);
        }
        throw error;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ModelContractException ContractChanged(ModelGeneration generation) => new(
        $"the inference engine now runs '{generation.Session.Source}' whose contract ({generation.Binding.Contract}) differs " +
        $"from this lease's ({_binding.Contract}); dispose this lease and rent a new one");

    private void ThrowIfNotRented()
    {
        if (Volatile.Read(ref _rented) == 0)
            throw new ObjectDisposedException(nameof(InferenceLease), "this inference lease was returned to its engine; rent a new one");
    }

    private static void CheckType<T>(TensorSpec spec, string what) where T : unmanaged
    {
        if (!Matches<T>(spec.ElementType))
            ThrowTypeMismatch(spec, what, typeof(T));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTypeMismatch(TensorSpec spec, string what, Type type) =>
        throw new ModelContractException($"model {what} '{spec.Name}' is {spec}; it cannot be accessed as {type.Name}");

    internal static bool Matches<T>(OnnxElementType type) where T : unmanaged => type switch
    {
        OnnxElementType.Float => typeof(T) == typeof(float),
        OnnxElementType.Double => typeof(T) == typeof(double),
        OnnxElementType.Int8 => typeof(T) == typeof(sbyte),
        OnnxElementType.UInt8 => typeof(T) == typeof(byte),
        OnnxElementType.Int16 => typeof(T) == typeof(short),
        OnnxElementType.UInt16 => typeof(T) == typeof(ushort),
        OnnxElementType.Int32 => typeof(T) == typeof(int),
        OnnxElementType.UInt32 => typeof(T) == typeof(uint),
        OnnxElementType.Int64 => typeof(T) == typeof(long),
        OnnxElementType.UInt64 => typeof(T) == typeof(ulong),
        OnnxElementType.Bool => typeof(T) == typeof(bool),
        OnnxElementType.Float16 => typeof(T) == typeof(Half),
        _ => false,
    };

    private static int IndexOf(TensorSpec[] specs, string name, string what)
    {
        for (int i = 0; i < specs.Length; i++)
            if (string.Equals(specs[i].Name, name, StringComparison.Ordinal)) return i;
        throw new ModelContractException($"the model has no {what} '{name}'; its {what}s are: " + string.Join(", ", specs.Select(s => $"'{s.Name}' {s}")));
    }
}
