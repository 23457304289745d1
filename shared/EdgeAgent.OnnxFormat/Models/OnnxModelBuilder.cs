using EdgeAgent.OnnxFormat.Protobuf;

namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Builds a serialized ONNX <c>ModelProto</c> with one graph: inputs, outputs, initializers, nodes,
/// opset imports and model metadata. The builder checks only what it can cheaply (unique names,
/// at least one opset); whether the graph is valid for its operators is up to ONNX Runtime.
/// </summary>
/// <remarks>
/// Field numbers (onnx.proto): ModelProto ir_version 1, producer_name 2, producer_version 3, domain 4,
/// model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14. GraphProto node 1, name 2,
/// initializer 5, doc_string 10, input 11, output 12. NodeProto input 1, output 2, name 3, op_type 4,
/// attribute 5, doc_string 6, domain 7. ValueInfoProto name 1, type 2. TypeProto tensor_type 1;
/// TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto dim 1; Dimension dim_value 1, dim_param 2.
/// AttributeProto name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20. OperatorSetIdProto domain 1,
/// version 2. StringStringEntryProto key 1, value 2. Not thread-safe.
/// </remarks>
public sealed class OnnxModelBuilder
{
    private readonly List<(string Domain, long Version)> _opsets = [];
    private readonly List<OnnxValueInfo> _inputs = [];
    private readonly List<OnnxValueInfo> _outputs = [];
    private readonly List<OnnxTensor> _initializers = [];
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<KeyValuePair<string, string>> _metadata = [];

    /// <summary>ONNX IR version. 8 (ONNX 1.10–1.13, opsets up to 17) loads in every ORT from 1.10 on, including 1.30.</summary>
    public long IrVersion { get; set; } = 8;
    public string ProducerName { get; set; } = "edgeagent-modelgen";
    public string ProducerVersion { get; set; } = "";
    public string Domain { get; set; } = "";
    public long ModelVersion { get; set; }
    public string DocString { get; set; } = "";
    public string GraphName { get; set; } = "main";

    /// <summary>Imports an operator set; <paramref name="domain"/> "" is the default <c>ai.onnx</c> domain.</summary>
    public OnnxModelBuilder AddOpset(string domain, long version)
    {
        if (_opsets.Any(o => o.Domain == domain))
            throw new ArgumentException($"Opset for domain '{domain}' is already imported.", nameof(domain));
        _opsets.Add((domain, version));
        return this;
    }

    /// <summary>Declares a tensor graph input; <paramref name="shape"/> null means unknown rank.</summary>
    public OnnxModelBuilder AddInput(string name, OnnxElementType type, IReadOnlyList<OnnxDim>? shape)
    {
        CheckNewValueName(name);
        _inputs.Add(new OnnxValueInfo(name, type, shape?.ToArray()));
        return this;
    }

    public OnnxModelBuilder AddOutput(string name, OnnxElementType type, IReadOnlyList<OnnxDim>? shape)
    {
        if (_outputs.Any(o => o.Name == name)) throw new ArgumentException($"Output '{name}' is declared twice.", nameof(name));
        _outputs.Add(new OnnxValueInfo(name, type, shape?.ToArray()));
        return this;
    }

    /// <summary>Adds a constant (weights, scales, zero points). Its name becomes a value name in the graph.</summary>
    public OnnxModelBuilder AddInitializer(OnnxTensor tensor)
    {
        if (string.IsNullOrEmpty(tensor.Name)) throw new ArgumentException("An initializer needs a name.", nameof(tensor));
        CheckNewValueName(tensor.Name);
        _initializers.Add(tensor);
        return this;
    }

    /// <summary>Adds a node and returns it so attributes can be attached.</summary>
    public OnnxNode AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, string? name = null, string domain = "")
    {
        var node = new OnnxNode(opType, inputs, outputs, name ?? $"{opType}_{_nodes.Count}", domain);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Adds a <c>metadata_props</c> entry (ORT exposes them as custom metadata).</summary>
    public OnnxModelBuilder AddMetadata(string key, string value)
    {
        if (_metadata.Any(m => m.Key == key)) throw new ArgumentException($"Metadata key '{key}' is set twice.", nameof(key));
        _metadata.Add(new(key, value));
        return this;
    }

    /// <summary>Serializes the model.</summary>
    /// <exception cref="InvalidOperationException">No opset was imported or the graph has no output.</exception>
    public byte[] Build()
    {
        if (_opsets.Count == 0) throw new InvalidOperationException("The model imports no opset; call AddOpset(\"\", 13) or similar.");
        if (_outputs.Count == 0) throw new InvalidOperationException("The graph has no output.");

        var graph = new ProtoWriter(4096);
        foreach (var node in _nodes)
        {
            var n = new ProtoWriter();
            foreach (string i in node.Inputs) n.WriteStringField(1, i);
            foreach (string o in node.Outputs) n.WriteStringField(2, o);
            n.WriteStringFieldIfSet(3, node.Name);
            n.WriteStringField(4, node.OpType);
            foreach (var a in node.Attributes) n.WriteMessage(5, EncodeAttribute(a));
            n.WriteStringFieldIfSet(7, node.Domain);
            graph.WriteMessage(1, n);
        }
        graph.WriteStringFieldIfSet(2, GraphName);
        foreach (var t in _initializers)
        {
            var tw = new ProtoWriter();
            TensorProtoCodec.WriteTo(tw, t, TensorDataEncoding.Raw);
            graph.WriteMessage(5, tw);
        }
        foreach (var v in _inputs) graph.WriteMessage(11, EncodeValueInfo(v));
        foreach (var v in _outputs) graph.WriteMessage(12, EncodeValueInfo(v));

        var model = new ProtoWriter(graph.Length + 256);
        model.WriteInt64Field(1, IrVersion);
        model.WriteStringFieldIfSet(2, ProducerName);
        model.WriteStringFieldIfSet(3, ProducerVersion);
        model.WriteStringFieldIfSet(4, Domain);
        if (ModelVersion != 0) model.WriteInt64Field(5, ModelVersion);
        model.WriteStringFieldIfSet(6, DocString);
        model.WriteMessage(7, graph);
        foreach (var (domain, version) in _opsets)
        {
            var o = new ProtoWriter(32);
            o.WriteStringFieldIfSet(1, domain);
            o.WriteInt64Field(2, version);
            model.WriteMessage(8, o);
        }
        foreach (var (key, value) in _metadata)
        {
            var e = new ProtoWriter(64);
            e.WriteStringField(1, key);
            e.WriteStringField(2, value);
            model.WriteMessage(14, e);
        }
        return model.ToArray();
    }

    private void CheckNewValueName(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("A value needs a name.", nameof(name));
        if (_inputs.Any(i => i.Name == name) || _initializers.Any(i => i.Name == name))
            throw new ArgumentException($"Value name '{name}' is already used by an input or initializer.", nameof(name));
    }

    private static ProtoWriter EncodeValueInfo(OnnxValueInfo v)
    {
        var tensorType = new ProtoWriter(64);
        tensorType.WriteInt32Field(1, (int)v.ElementType);
        if (v.Shape is not null)
        {
            var shape = new ProtoWriter(64);
            foreach (var d in v.Shape)
            {
                var dim = new ProtoWriter(16);
                if (d.Value is long value) dim.WriteInt64Field(1, value);
                else if (d.Param is string param) dim.WriteStringField(2, param);
                shape.WriteMessage(1, dim);
            }
            tensorType.WriteMessage(2, shape);
        }
        var type = new ProtoWriter(64);
        type.WriteMessage(1, tensorType);
        var info = new ProtoWriter(64);
        info.WriteStringField(1, v.Name);
        info.WriteMessage(2, type);
        return info;
    }

    private static ProtoWriter EncodeAttribute(OnnxAttribute a)
    {
        var w = new ProtoWriter(32);
        w.WriteStringField(1, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloatField(2, a.FloatValue); break;
            case OnnxAttributeType.Int: w.WriteInt64Field(3, a.IntValue); break;
            case OnnxAttributeType.String: w.WriteStringField(4, a.StringValue ?? ""); break;
            case OnnxAttributeType.Tensor:
                var t = new ProtoWriter();
                TensorProtoCodec.WriteTo(t, a.TensorValue!, TensorDataEncoding.Raw);
                w.WriteMessage(5, t);
                break;
            // floats/ints are proto2 repeated without [packed=true]: one tag per element, as onnx writes them.
            case OnnxAttributeType.Floats: foreach (float f in a.Floats) w.WriteFloatField(7, f); break;
            case OnnxAttributeType.Ints: foreach (long i in a.Ints) w.WriteInt64Field(8, i); break;
        }
        w.WriteInt32Field(20, (int)a.Type);
        return w;
    }
}
