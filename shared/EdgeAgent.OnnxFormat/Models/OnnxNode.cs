namespace EdgeAgent.OnnxFormat;

/// <summary>
/// A graph node (onnx.proto, NodeProto) under construction. The <c>With…</c> methods add attributes
/// and return this node for chaining. Not thread-safe; owned by the <see cref="OnnxModelBuilder"/> that created it.
/// </summary>
public sealed class OnnxNode
{
    private readonly List<OnnxAttribute> _attributes = [];

    internal OnnxNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, string name, string domain)
    {
        if (string.IsNullOrEmpty(opType)) throw new ArgumentException("A node needs an op type.", nameof(opType));
        OpType = opType;
        Inputs = inputs.ToArray();
        Outputs = outputs.ToArray();
        Name = name;
        Domain = domain;
    }

    public string OpType { get; }

    /// <summary>Input value names; an empty string marks an omitted optional input (ONNX IR, "Optional inputs").</summary>
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }
    public string Name { get; }

    /// <summary>Operator domain; empty means the default <c>ai.onnx</c> domain.</summary>
    public string Domain { get; }
    public IReadOnlyList<OnnxAttribute> Attributes => _attributes;

    public OnnxNode With(OnnxAttribute attribute)
    {
        if (_attributes.Any(a => a.Name == attribute.Name))
            throw new ArgumentException($"Node '{Name}' ({OpType}) already has attribute '{attribute.Name}'.", nameof(attribute));
        _attributes.Add(attribute);
        return this;
    }

    public OnnxNode WithInt(string name, long value) => With(OnnxAttribute.Int(name, value));
    public OnnxNode WithFloat(string name, float value) => With(OnnxAttribute.Float(name, value));
    public OnnxNode WithString(string name, string value) => With(OnnxAttribute.String(name, value));
    public OnnxNode WithInts(string name, params long[] values) => With(OnnxAttribute.IntList(name, values));
    public OnnxNode WithFloats(string name, params float[] values) => With(OnnxAttribute.FloatList(name, values));
    public OnnxNode WithTensor(string name, OnnxTensor value) => With(OnnxAttribute.Tensor(name, value));
}
