using System.Text;
using EdgeAgent.Onnx.Native;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Onnx;

/// <summary>
/// One loaded ONNX model (an <c>OrtSession</c>) with its contract and metadata, plus a general,
/// allocating <see cref="Run"/> for diagnostics (<c>edgeagent predict</c>). The steady-state path for the
/// agent is <see cref="InferenceEngine"/>, built on a session.
/// </summary>
/// <remarks>
/// Thread safety: <see cref="Run"/> may be called from several threads at once (ORT sessions are
/// thread-safe for Run). <see cref="Dispose"/> may race with runs: the native session is released only
/// after the last in-flight run returns; runs started after Dispose throw <see cref="ObjectDisposedException"/>.
/// Ownership: the caller owns the session unless it hands it to <see cref="InferenceEngine"/>, which then
/// owns it. A session that is never disposed is released by its finalizer.
/// </remarks>
public sealed unsafe class OnnxSession : IDisposable
{
    private readonly OrtHandle _session;
    private readonly OrtApi _api;
    private readonly nint _memoryInfo;
    private readonly nint _allocator;

    private OnnxSession(OrtHandle session, string source, OnnxSessionOptions options)
    {
        var rt = OnnxRuntime.Instance;
        _api = rt.Library.Api;
        _memoryInfo = rt.CpuMemoryInfo;
        _allocator = rt.DefaultAllocator;
        _session = session;
        Source = source;
        Options = options;
        Contract = ReadContract();
        Metadata = ReadMetadata();
    }

    /// <summary>Where the model came from: its path, or "(N bytes in memory)" / the name given to <see cref="Load(ReadOnlySpan{byte}, OnnxSessionOptions?, string?)"/>.</summary>
    public string Source { get; }

    public OnnxSessionOptions Options { get; }

    public ModelContract Contract { get; }

    public OnnxModelMetadata Metadata { get; }

    internal OrtHandle Handle => _session;

    /// <summary>
    /// Loads a model file. Throws <see cref="OnnxRuntimeException"/> (e.g. <see cref="OrtErrorCode.NoSuchFile"/>,
    /// <see cref="OrtErrorCode.InvalidProtobuf"/>, <see cref="OrtErrorCode.InvalidGraph"/>) with the path in the message,
    /// or <see cref="OnnxRuntimeLoadException"/> when the runtime itself is missing.
    /// </summary>
    public static OnnxSession Load(string path, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= OnnxSessionOptions.Default;
        var rt = OnnxRuntime.Instance;
        var api = rt.Library.Api;
        using var sessionOptions = CreateOptions(api, options, path);
        nint session;
        byte[] utf8Path = NulTerminated(path);
        fixed (byte* p = utf8Path)
            OrtStatus.Check(api, api.CreateSession(rt.Env, p, sessionOptions.Pointer, &session), "loading model", path);
        return Wrap(api, session, path, options);
    }

    /// <summary>
    /// Loads a model from bytes (e.g. a verified bundle already in memory). ORT parses the bytes during the
    /// call; the buffer is not kept. <paramref name="sourceName"/> is used in messages.
    /// </summary>
    public static OnnxSession Load(ReadOnlySpan<byte> model, OnnxSessionOptions? options = null, string? sourceName = null)
    {
        options ??= OnnxSessionOptions.Default;
        string source = sourceName ?? $"({model.Length} bytes in memory)";
        if (model.IsEmpty)
            throw new OnnxRuntimeException(OrtErrorCode.InvalidProtobuf, "the model is empty (0 bytes)", $"loading model '{source}'");
        var rt = OnnxRuntime.Instance;
        var api = rt.Library.Api;
        using var sessionOptions = CreateOptions(api, options, source);
        nint session;
        fixed (byte* m = model)
            OrtStatus.Check(api, api.CreateSessionFromArray(rt.Env, m, (nuint)model.Length, sessionOptions.Pointer, &session),
                "loading model", source);
        return Wrap(api, session, source, options);
    }

    private static OnnxSession Wrap(OrtApi api, nint session, string source, OnnxSessionOptions options)
    {
        var handle = new OrtHandle(session, api.ReleaseSession);
        try
        {
            return new OnnxSession(handle, source, options);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model once with named inputs of any supported element type and shape and returns the
    /// requested outputs (all outputs, in model order, when <paramref name="outputNames"/> is null).
    /// Inputs are checked against <see cref="Contract"/> first (<see cref="ModelContractException"/>);
    /// NaN and infinities are passed through — whether they are acceptable is the caller's policy.
    /// Cancelling <paramref name="cancellationToken"/> terminates the run inside ORT
    /// (<c>RunOptionsSetTerminate</c>) and throws <see cref="OperationCanceledException"/>.
    /// Allocates; for the steady state use <see cref="InferenceEngine"/>.
    /// </summary>
    public IReadOnlyList<OnnxTensor> Run(IReadOnlyList<OnnxTensor> inputs, IReadOnlyList<string>? outputNames = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        cancellationToken.ThrowIfCancellationRequested();
        CheckInputs(Contract, inputs);
        var outputs = ResolveOutputs(outputNames);

        var values = new nint[inputs.Count];
        var outputValues = new nint[outputs.Length];
        var buffers = new List<NativeBlock>(inputs.Count);
        var names = new Utf8NameArray(inputs.Select(i => i.Name).Concat(outputs.Select(o => o.Name)).ToArray());
        bool added = false;
        nint runOptions = 0;
        try
        {
            _session.DangerousAddRef(ref added);
            for (int i = 0; i < inputs.Count; i++)
                values[i] = CreateInputValue(inputs[i], buffers);

            OrtStatus.Check(_api, _api.CreateRunOptions(&runOptions), "creating run options for", Source);
            using var registration = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static state => ((Terminator)state!).Terminate(), new Terminator(_api, runOptions))
                : default;

            nint status;
            fixed (nint* inValues = values)
            fixed (nint* outValues = outputValues)
                status = _api.Run(_session.Pointer, runOptions, names.Pointers, inValues, (nuint)inputs.Count,
                    names.Pointers + inputs.Count, (nuint)outputs.Length, outValues);
            if (status != 0)
            {
                var error = OrtStatus.ToException(_api, status, "running model", Source);
                if (cancellationToken.IsCancellationRequested)
                    throw new OperationCanceledException($"running model '{Source}' was cancelled", error, cancellationToken);
                throw error;
            }

            var result = new OnnxTensor[outputs.Length];
            for (int i = 0; i < outputs.Length; i++)
                result[i] = OrtTensors.Read(_api, outputValues[i], outputs[i].Name);
            return result;
        }
        finally
        {
            foreach (var v in outputValues) if (v != 0) _api.ReleaseValue(v);
            foreach (var v in values) if (v != 0) _api.ReleaseValue(v);
            foreach (var b in buffers) b.Dispose();
            if (runOptions != 0) _api.ReleaseRunOptions(runOptions);
            names.Dispose();
            if (added) _session.DangerousRelease();
        }
    }

    /// <summary>Releases the native session (deferred until in-flight runs return). Idempotent.</summary>
    public void Dispose() => _session.Dispose();

    public override string ToString() => $"{Source}: {Contract}";

    /// <summary>
    /// Checks named inputs against a contract: every given name is a model input, every model input is
    /// given, element types match and shapes fit (dynamic dims accept any size).
    /// </summary>
    public static void CheckInputs(ModelContract contract, IReadOnlyList<OnnxTensor> inputs)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var spec = contract.FindInput(input.Name) ?? throw new ModelContractException(
                $"the model has no input '{input.Name}'; its inputs are: " +
                string.Join(", ", contract.Inputs.Select(i => $"'{i.Name}' {i}")));
            if (!seen.Add(input.Name))
                throw new ModelContractException($"model input '{input.Name}' was given twice");
            CheckInput(spec, input.ElementType, input.Dims);
        }
        foreach (var spec in contract.Inputs)
            if (!seen.Contains(spec.Name))
                throw new ModelContractException($"model input '{spec.Name}' ({spec}) was not given");
    }

    /// <summary>Throws <see cref="ModelContractException"/> unless a tensor of <paramref name="type"/> and <paramref name="dims"/> fits <paramref name="spec"/>.</summary>
    public static void CheckInput(TensorSpec spec, OnnxElementType type, ReadOnlySpan<long> dims)
    {
        if (spec.Kind != OnnxValueKind.Tensor)
            throw new ModelContractException(
                $"model input '{spec.Name}' is a {spec.TypeText}; EdgeAgent feeds tensor inputs only");
        if (spec.ElementType != type || !spec.Accepts(dims))
            throw new ModelContractException(
                $"model input '{spec.Name}' expects {spec}, got {TensorSpec.FormatDims(dims)} {ElementTypes.Name(type)}");
    }

    private TensorSpec[] ResolveOutputs(IReadOnlyList<string>? outputNames)
    {
        if (outputNames is null) return Contract.Outputs.ToArray();
        var result = new TensorSpec[outputNames.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = Contract.FindOutput(outputNames[i]) ?? throw new ModelContractException(
                $"the model has no output '{outputNames[i]}'; its outputs are: " +
                string.Join(", ", Contract.Outputs.Select(o => $"'{o.Name}' {o}")));
        return result;
    }

    private nint CreateInputValue(OnnxTensor tensor, List<NativeBlock> buffers)
    {
        if (tensor.ElementType == OnnxElementType.String)
            return OrtTensors.CreateStrings(_api, _allocator, tensor.Dims, tensor.GetData<string>(), tensor.Name);
        var bytes = TensorBytes.Of(tensor.Data);
        var block = new NativeBlock((nuint)bytes.Length);
        buffers.Add(block);
        bytes.CopyTo(new Span<byte>(block.Pointer, bytes.Length));
        return OrtTensors.CreateOver(_api, _memoryInfo, block.Pointer, (nuint)bytes.Length, tensor.Dims, tensor.ElementType, tensor.Name);
    }

    private ModelContract ReadContract()
    {
        nuint inputCount, outputCount;
        OrtStatus.Check(_api, _api.SessionGetInputCount(_session.Pointer, &inputCount), "reading the inputs of", Source);
        OrtStatus.Check(_api, _api.SessionGetOutputCount(_session.Pointer, &outputCount), "reading the outputs of", Source);
        var inputs = new TensorSpec[(int)inputCount];
        for (int i = 0; i < inputs.Length; i++)
            inputs[i] = ReadSpec(isInput: true, (nuint)i);
        var outputs = new TensorSpec[(int)outputCount];
        for (int i = 0; i < outputs.Length; i++)
            outputs[i] = ReadSpec(isInput: false, (nuint)i);
        return new ModelContract(inputs, outputs);
    }

    private TensorSpec ReadSpec(bool isInput, nuint index)
    {
        byte* rawName;
        nint status = isInput
            ? _api.SessionGetInputName(_session.Pointer, index, _allocator, &rawName)
            : _api.SessionGetOutputName(_session.Pointer, index, _allocator, &rawName);
        OrtStatus.Check(_api, status, isInput ? "reading an input name of" : "reading an output name of", Source);
        string name = TakeString(rawName) ?? string.Empty;

        nint typeInfo;
        status = isInput
            ? _api.SessionGetInputTypeInfo(_session.Pointer, index, &typeInfo)
            : _api.SessionGetOutputTypeInfo(_session.Pointer, index, &typeInfo);
        OrtStatus.Check(_api, status, "reading the type of", name);
        try { return OrtTensors.Describe(_api, typeInfo, name); }
        finally { _api.ReleaseTypeInfo(typeInfo); }
    }

    private OnnxModelMetadata ReadMetadata()
    {
        nint metadata;
        OrtStatus.Check(_api, _api.SessionGetModelMetadata(_session.Pointer, &metadata), "reading the metadata of", Source);
        try
        {
            byte* text;
            OrtStatus.Check(_api, _api.ModelMetadataGetProducerName(metadata, _allocator, &text), "reading the producer of", Source);
            string producer = TakeString(text) ?? string.Empty;
            OrtStatus.Check(_api, _api.ModelMetadataGetGraphName(metadata, _allocator, &text), "reading the graph name of", Source);
            string graph = TakeString(text) ?? string.Empty;
            OrtStatus.Check(_api, _api.ModelMetadataGetDomain(metadata, _allocator, &text), "reading the domain of", Source);
            string domain = TakeString(text) ?? string.Empty;
            OrtStatus.Check(_api, _api.ModelMetadataGetDescription(metadata, _allocator, &text), "reading the description of", Source);
            string description = TakeString(text) ?? string.Empty;
            long version;
            OrtStatus.Check(_api, _api.ModelMetadataGetVersion(metadata, &version), "reading the version of", Source);

            var custom = new Dictionary<string, string>(StringComparer.Ordinal);
            byte** keys;
            long keyCount;
            OrtStatus.Check(_api, _api.ModelMetadataGetCustomMetadataMapKeys(metadata, _allocator, &keys, &keyCount),
                "reading the custom metadata of", Source);
            if (keys != null)
            {
                try
                {
                    for (long i = 0; i < keyCount; i++)
                    {
                        string key = OrtApi.ReadUtf8(keys[i]) ?? string.Empty;
                        OrtStatus.Check(_api, _api.ModelMetadataLookupCustomMetadataMap(metadata, _allocator, keys[i], &text),
                            "reading the custom metadata of", Source);
                        custom[key] = TakeString(text) ?? string.Empty;
                    }
                }
                finally
                {
                    for (long i = 0; i < keyCount; i++) _api.AllocatorFree(_allocator, keys[i]);
                    _api.AllocatorFree(_allocator, keys);
                }
            }
            return new OnnxModelMetadata(producer, graph, domain, description, version, custom);
        }
        finally
        {
            _api.ReleaseModelMetadata(metadata);
        }
    }

    /// <summary>Copies a string allocated by ORT's default allocator and frees it.</summary>
    private string? TakeString(byte* text)
    {
        if (text == null) return null;
        try { return OrtApi.ReadUtf8(text); }
        finally { _api.AllocatorFree(_allocator, text); }
    }

    private static OrtHandle CreateOptions(OrtApi api, OnnxSessionOptions o, string source)
    {
        if (o.IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(o), $"IntraOpThreads must be >= 0, got {o.IntraOpThreads}");
        if (o.InterOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(o), $"InterOpThreads must be >= 0, got {o.InterOpThreads}");
        if (o.LogSeverity is < 0 or > 4) throw new ArgumentOutOfRangeException(nameof(o), $"LogSeverity must be 0..4, got {o.LogSeverity}");
        if (!Enum.IsDefined(o.OptimizationLevel))
            throw new ArgumentOutOfRangeException(nameof(o), $"OptimizationLevel {(int)o.OptimizationLevel} is not one of 0, 1, 2, 99");

        nint raw;
        OrtStatus.Check(api, api.CreateSessionOptions(&raw), "creating session options for", source);
        var options = new OrtHandle(raw, api.ReleaseSessionOptions);
        try
        {
            const string op = "setting session options for";
            OrtStatus.Check(api, api.SetIntraOpNumThreads(raw, o.IntraOpThreads), op, source);
            OrtStatus.Check(api, api.SetInterOpNumThreads(raw, o.InterOpThreads), op, source);
            OrtStatus.Check(api, api.SetSessionExecutionMode(raw, o.ParallelExecution ? 1 : 0), op, source);
            OrtStatus.Check(api, api.SetSessionGraphOptimizationLevel(raw, (int)o.OptimizationLevel), op, source);
            OrtStatus.Check(api, api.SetSessionLogSeverityLevel(raw, o.LogSeverity), op, source);
            OrtStatus.Check(api, o.EnableCpuMemArena ? api.EnableCpuMemArena(raw) : api.DisableCpuMemArena(raw), op, source);
            string spinning = o.AllowSpinning ? "1" : "0";
            AddConfig(api, raw, "session.intra_op.allow_spinning", spinning, source);
            AddConfig(api, raw, "session.inter_op.allow_spinning", spinning, source);
            if (o.OptimizedModelPath is not null)
            {
                fixed (byte* p = NulTerminated(o.OptimizedModelPath))
                    OrtStatus.Check(api, api.SetOptimizedModelFilePath(raw, p), op, source);
            }
            if (o.ConfigEntries is not null)
                foreach (var (key, value) in o.ConfigEntries)
                    AddConfig(api, raw, key, value, source);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static void AddConfig(OrtApi api, nint options, string key, string value, string source)
    {
        fixed (byte* k = NulTerminated(key))
        fixed (byte* v = NulTerminated(value))
            OrtStatus.Check(api, api.AddSessionConfigEntry(options, k, v), $"setting session option {key}={value} for", source);
    }

    internal static byte[] NulTerminated(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    /// <summary>Run-options owner that cancellation callbacks use to call <c>RunOptionsSetTerminate</c>.</summary>
    private sealed class Terminator(OrtApi api, nint runOptions)
    {
        public void Terminate()
        {
            nint status = api.RunOptionsSetTerminate(runOptions);
            if (status != 0) api.ReleaseStatus(status);
        }
    }
}

/// <summary>NUL-terminated UTF-8 copies of names plus the <c>const char*[]</c> ORT's Run takes, in one native block.</summary>
internal sealed unsafe class Utf8NameArray : IDisposable
{
    private readonly NativeBlock _block;

    public Utf8NameArray(IReadOnlyList<string> names)
    {
        int pointerBytes = names.Count * sizeof(nint);
        int textBytes = 0;
        foreach (var n in names) textBytes += Encoding.UTF8.GetByteCount(n) + 1;
        _block = new NativeBlock((nuint)(pointerBytes + textBytes));
        Pointers = (nint*)_block.Pointer;
        byte* text = (byte*)_block.Pointer + pointerBytes;
        for (int i = 0; i < names.Count; i++)
        {
            Pointers[i] = (nint)text;
            int written = Encoding.UTF8.GetBytes(names[i], new Span<byte>(text, textBytes));
            text[written] = 0;
            text += written + 1;
            textBytes -= written + 1;
        }
    }

    /// <summary>Pointer to the array of name pointers; valid until disposed.</summary>
    public nint* Pointers { get; }

    public void Dispose() => _block.Dispose();
}
