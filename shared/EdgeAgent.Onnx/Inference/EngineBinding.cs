using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Onnx;

/// <summary>
/// A model contract bound to concrete shapes: what every lease's buffers look like. Shared by all
/// generations whose models have the same contract (so leases survive a compatible swap), together with
/// the pool of idle leases made for it.
/// </summary>
internal sealed class EngineBinding
{
    private readonly Lock _poolGate = new();
    private readonly InferenceLease?[] _pool;
    private int _pooled;

    private EngineBinding(ModelContract contract, TensorSpec[] inputs, TensorSpec[] outputs, int maxPooled)
    {
        Contract = contract;
        Inputs = inputs;
        Outputs = outputs;
        _pool = new InferenceLease?[Math.Max(0, maxPooled)];
    }

    public ModelContract Contract { get; }

    /// <summary>Inputs with concrete shapes, in model order.</summary>
    public TensorSpec[] Inputs { get; }

    /// <summary>Outputs with concrete shapes, in model order.</summary>
    public TensorSpec[] Outputs { get; }

    public static EngineBinding Create(OnnxSession session, InferenceEngineOptions options)
    {
        var contract = session.Contract;
        if (contract.Outputs.Count == 0)
            throw new ModelContractException($"model '{session.Source}' has no outputs");

        var inputs = new TensorSpec[contract.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
            inputs[i] = BindInput(contract.Inputs[i], options, session.Source);

        var outputs = new TensorSpec[contract.Outputs.Count];
        bool needProbe = false;
        for (int i = 0; i < outputs.Length; i++)
        {
            var spec = contract.Outputs[i];
            CheckSteadyStateType(spec, "output", session.Source);
            if (spec.IsStatic) outputs[i] = spec;
            else needProbe = true;
        }

        if (needProbe)
        {
            // Output shapes depend on the input shapes only for the models the engine serves (anything else,
            // e.g. NonZero, cannot have preallocated outputs). One run with the bound input shapes tells them.
            var probe = session.Run(inputs.Select(OnesLike).ToArray());
            for (int i = 0; i < outputs.Length; i++)
                outputs[i] ??= new TensorSpec(contract.Outputs[i].Name, OnnxValueKind.Tensor, probe[i].ElementType, probe[i].Dims);
        }

        return new EngineBinding(contract, inputs, outputs, options.MaxPooledLeases);
    }

    /// <summary>True when <paramref name="session"/> can use this binding's buffers unchanged.</summary>
    public bool Fits(OnnxSession session, InferenceEngineOptions options, out string? difference)
    {
        if (!Contract.IsCompatibleWith(session.Contract, out difference)) return false;
        var candidate = Create(session, options with { MaxPooledLeases = 0 });
        for (int i = 0; i < Outputs.Length; i++)
        {
            var mine = Outputs[i];
            var theirs = candidate.Outputs[candidate.Contract.IndexOfOutput(mine.Name)];
            if (!mine.SameAs(theirs))
            {
                difference = $"output '{mine.Name}' is {mine} for the running model but {theirs} for the new one";
                return false;
            }
        }
        return true;
    }

    public static OnnxTensor OnesLike(TensorSpec spec)
    {
        var tensor = OnnxTensor.Zeros(spec.Name, spec.ElementType, spec.Shape);
        switch (tensor.Data)
        {
            case float[] a: Array.Fill(a, 1f); break;
            case double[] a: Array.Fill(a, 1d); break;
            case sbyte[] a: Array.Fill(a, (sbyte)1); break;
            case byte[] a: Array.Fill(a, (byte)1); break;
            case short[] a: Array.Fill(a, (short)1); break;
            case ushort[] a: Array.Fill(a, (ushort)1); break;
            case int[] a: Array.Fill(a, 1); break;
            case uint[] a: Array.Fill(a, 1u); break;
            case long[] a: Array.Fill(a, 1L); break;
            case ulong[] a: Array.Fill(a, 1UL); break;
            case bool[] a: Array.Fill(a, true); break;
            case Half[] a: Array.Fill(a, Half.One); break;
        }
        return tensor;
    }

    public InferenceLease? TryTakePooled()
    {
        lock (_poolGate)
        {
            if (_pooled == 0) return null;
            var lease = _pool[--_pooled];
            _pool[_pooled] = null;
            return lease;
        }
    }

    public bool TryPool(InferenceLease lease)
    {
        lock (_poolGate)
        {
            if (_pooled == _pool.Length) return false;
            _pool[_pooled++] = lease;
            return true;
        }
    }

    public void DrainPool()
    {
        InferenceLease?[] leases;
        lock (_poolGate)
        {
            leases = _pool[.._pooled];
            Array.Clear(_pool);
            _pooled = 0;
        }
        foreach (var lease in leases) lease?.Release();
    }

    private static TensorSpec BindInput(TensorSpec spec, InferenceEngineOptions options, string source)
    {
        CheckSteadyStateType(spec, "input", source);
        if (options.InputShapes is not null && options.InputShapes.TryGetValue(spec.Name, out var given))
        {
            if (!spec.Accepts(given))
                throw new ModelContractException(
                    $"model input '{spec.Name}' expects {spec}, the configured shape is {TensorSpec.FormatDims(given)}");
            return new TensorSpec(spec.Name, spec.Kind, spec.ElementType, given.ToArray());
        }
        if (spec.IsStatic) return spec;
        if (options.DynamicDimensionValue is long value && value >= 0)
        {
            var dims = spec.Shape.Select(d => d >= 0 ? d : value).ToArray();
            return new TensorSpec(spec.Name, spec.Kind, spec.ElementType, dims);
        }
        throw new ModelContractException(
            $"model input '{spec.Name}' has dynamic dimensions {spec}; give its concrete shape in " +
            $"{nameof(InferenceEngineOptions)}.{nameof(InferenceEngineOptions.InputShapes)} " +
            $"or set {nameof(InferenceEngineOptions.DynamicDimensionValue)} (e.g. 1 for a batch dimension)");
    }

    private static void CheckSteadyStateType(TensorSpec spec, string what, string source)
    {
        if (spec.Kind != OnnxValueKind.Tensor)
            throw new ModelContractException(
                $"model '{source}' {what} '{spec.Name}' is a {spec.TypeText}; the inference engine handles tensors only");
        if (spec.ElementType == OnnxElementType.String || ElementTypes.SizeOf(spec.ElementType) == 0)
            throw new ModelContractException(
                $"model '{source}' {what} '{spec.Name}' is {spec.TypeText}; the inference engine handles fixed-size numeric and bool " +
                $"tensors only (use {nameof(OnnxSession)}.{nameof(OnnxSession.Run)} for this model)");
    }
}
