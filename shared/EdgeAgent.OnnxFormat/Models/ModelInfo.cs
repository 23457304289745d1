using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeAgent.OnnxFormat.Protobuf;

namespace EdgeAgent.OnnxFormat;

/// <summary>An operator set a model imports (onnx.proto, OperatorSetIdProto). Domain "" is <c>ai.onnx</c>.</summary>
public sealed record OnnxOpsetImport(string Domain, long Version)
{
    public override string ToString() => $"{(Domain.Length == 0 ? "ai.onnx" : Domain)} v{Version}";
}

/// <summary>
/// A summary of an ONNX model read without decoding weights: what <c>edgeagent inspect</c> prints and
/// what bundle validation compares against a manifest. Immutable and thread-safe.
/// </summary>
/// <remarks>
/// <see cref="Inputs"/> lists the graph inputs that are not backed by an initializer: those are what a
/// caller must feed (before IR 4 every initializer was also listed as a graph input).
/// <see cref="OpTypeHistogram"/> counts top-level nodes by op type, prefixed by the domain for
/// non-default domains (<c>com.microsoft:QLinearConv</c>); nodes inside subgraphs (If/Loop) are not counted.
/// </remarks>
public sealed record ModelInfo(
    long IrVersion,
    IReadOnlyList<OnnxOpsetImport> OpsetImports,
    string ProducerName,
    string ProducerVersion,
    string Domain,
    long ModelVersion,
    string DocString,
    string GraphName,
    IReadOnlyList<OnnxValueInfo> Inputs,
    IReadOnlyList<OnnxValueInfo> Outputs,
    int InitializerCount,
    long InitializerBytes,
    int ExternalInitializerCount,
    int NodeCount,
    IReadOnlyDictionary<string, int> OpTypeHistogram,
    IReadOnlyList<KeyValuePair<string, string>> MetadataProps)
{
    /// <summary>Initializer bytes per element type name (<c>int8</c>, <c>float32</c>, …), e.g. to show how much of a model is quantized.</summary>
    public IReadOnlyDictionary<string, long> InitializerBytesByType { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// How the model is quantized, judged from its operators: <c>"QDQ"</c> (QuantizeLinear/DequantizeLinear
    /// pairs around float ops, what ORT's static quantizer writes by default), <c>"QOperator"</c> (QLinearConv,
    /// QLinearMatMul, MatMulInteger, ConvInteger, com.microsoft Q* kernels), <c>"dynamic"</c>
    /// (DynamicQuantizeLinear), or <c>"none"</c>.
    /// </summary>
    public string QuantizationFormat
    {
        get
        {
            bool Has(Func<string, bool> match) => OpTypeHistogram.Keys.Any(match);
            if (Has(op => op is "QLinearConv" or "QLinearMatMul" or "MatMulInteger" or "ConvInteger"
                || op.StartsWith("com.microsoft:Q", StringComparison.Ordinal)))
                return "QOperator";
            if (Has(op => op == "DequantizeLinear") && Has(op => op == "QuantizeLinear")) return "QDQ";
            if (Has(op => op is "DynamicQuantizeLinear" or "com.microsoft:DynamicQuantizeMatMul")) return "dynamic";
            return "none";
        }
    }

    /// <summary>Version of the default (<c>ai.onnx</c>) opset, or null if the model does not import it.</summary>
    public long? DefaultOpsetVersion => OpsetImports.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version;

    /// <summary>Looks up a <c>metadata_props</c> value.</summary>
    public string? GetMetadata(string key) => MetadataProps.FirstOrDefault(p => p.Key == key).Value;

    /// <summary>Human-readable multi-line summary (what <c>edgeagent inspect</c> prints without <c>--json</c>).</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        sb.Append(c, $"producer:      {(ProducerName.Length > 0 ? ProducerName : "(none)")}{(ProducerVersion.Length > 0 ? " " + ProducerVersion : "")}\n");
        sb.Append(c, $"ir_version:    {IrVersion}\n");
        sb.Append(c, $"opsets:        {string.Join(", ", OpsetImports)}\n");
        if (Domain.Length > 0) sb.Append(c, $"domain:        {Domain}\n");
        sb.Append(c, $"model_version: {ModelVersion}\n");
        sb.Append(c, $"graph:         {GraphName}\n");
        if (DocString.Length > 0) sb.Append(c, $"doc:           {DocString}\n");
        sb.Append("inputs:\n");
        foreach (var i in Inputs) sb.Append(c, $"  {i}\n");
        sb.Append("outputs:\n");
        foreach (var o in Outputs) sb.Append(c, $"  {o}\n");
        sb.Append(c, $"initializers:  {InitializerCount} ({InitializerBytes:N0} bytes{(ExternalInitializerCount > 0 ? $", {ExternalInitializerCount} external" : "")})\n");
        foreach (var (type, bytes) in InitializerBytesByType.OrderByDescending(kv => kv.Value))
            sb.Append(c, $"  {type,-32} {bytes,12:N0} bytes\n");
        sb.Append(c, $"quantization:  {QuantizationFormat}\n");
        sb.Append(c, $"nodes:         {NodeCount}\n");
        foreach (var (op, n) in OpTypeHistogram.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append(c, $"  {op,-32} {n,5}\n");
        if (MetadataProps.Count > 0)
        {
            sb.Append("metadata:\n");
            foreach (var (k, v) in MetadataProps) sb.Append(c, $"  {k} = {v}\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Writes the summary as one JSON object (for <c>--json</c>), without reflection: field names are snake_case;
    /// shapes are arrays of numbers (fixed), strings (symbolic) and null (unknown); an unknown rank is null.
    /// </summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("ir_version", IrVersion);
        w.WriteStartArray("opset_imports");
        foreach (var o in OpsetImports)
        {
            w.WriteStartObject();
            w.WriteString("domain", o.Domain);
            w.WriteNumber("version", o.Version);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("producer_name", ProducerName);
        w.WriteString("producer_version", ProducerVersion);
        w.WriteString("domain", Domain);
        w.WriteNumber("model_version", ModelVersion);
        w.WriteString("doc_string", DocString);
        w.WriteString("graph_name", GraphName);
        WriteValues("inputs", Inputs);
        WriteValues("outputs", Outputs);
        w.WriteNumber("initializer_count", InitializerCount);
        w.WriteNumber("initializer_bytes", InitializerBytes);
        w.WriteNumber("external_initializer_count", ExternalInitializerCount);
        w.WriteStartObject("initializer_bytes_by_type");
        foreach (var (type, bytes) in InitializerBytesByType) w.WriteNumber(type, bytes);
        w.WriteEndObject();
        w.WriteString("quantization", QuantizationFormat);
        w.WriteNumber("node_count", NodeCount);
        w.WriteStartObject("op_types");
        foreach (var (op, n) in OpTypeHistogram) w.WriteNumber(op, n);
        w.WriteEndObject();
        w.WriteStartObject("metadata_props");
        foreach (var (k, v) in MetadataProps) w.WriteString(k, v);
        w.WriteEndObject();
        w.WriteEndObject();

        void WriteValues(string name, IReadOnlyList<OnnxValueInfo> values)
        {
            w.WriteStartArray(name);
            foreach (var v in values)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                w.WriteString("kind", v.Kind.ToString().ToLowerInvariant());
                w.WriteString("element_type", ElementTypes.Name(v.ElementType));
                if (v.Shape is null)
                {
                    w.WriteNull("shape");
                }
                else
                {
                    w.WriteStartArray("shape");
                    foreach (var d in v.Shape)
                    {
                        if (d.Value is long value) w.WriteNumberValue(value);
                        else if (d.Param is string param) w.WriteStringValue(param);
                        else w.WriteNullValue();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
    }

    /// <summary>Reads a model file.</summary>
    public static ModelInfo ParseFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (OnnxFormatException e)
        {
            throw new OnnxFormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses a serialized <c>ModelProto</c>.</summary>
    /// <exception cref="OnnxFormatException">Truncated or malformed protobuf, or no graph.</exception>
    public static ModelInfo Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
            throw new OnnxFormatException("The model file is empty.");
        var r = new ProtoReader(bytes, "ModelProto");
        long ir = 0, modelVersion = 0;
        string producer = "", producerVersion = "", domain = "", doc = "";
        var opsets = new List<OnnxOpsetImport>();
        var metadata = new List<KeyValuePair<string, string>>();
        GraphSummary? graph = null;

        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1: r.ExpectWireType(wt, WireType.Varint, field); ir = r.ReadInt64(); break;
                case 2: r.ExpectWireType(wt, WireType.LengthDelimited, field); producer = r.ReadString(); break;
                case 3: r.ExpectWireType(wt, WireType.LengthDelimited, field); producerVersion = r.ReadString(); break;
                case 4: r.ExpectWireType(wt, WireType.LengthDelimited, field); domain = r.ReadString(); break;
                case 5: r.ExpectWireType(wt, WireType.Varint, field); modelVersion = r.ReadInt64(); break;
                case 6: r.ExpectWireType(wt, WireType.LengthDelimited, field); doc = r.ReadString(); break;
                case 7: r.ExpectWireType(wt, WireType.LengthDelimited, field); graph = ReadGraph(r.ReadMessage("GraphProto")); break;
                case 8: r.ExpectWireType(wt, WireType.LengthDelimited, field); opsets.Add(ReadOpset(r.ReadMessage("OperatorSetIdProto"))); break;
                case 14: r.ExpectWireType(wt, WireType.LengthDelimited, field); metadata.Add(ReadEntry(r.ReadMessage("StringStringEntryProto"))); break;
                default: r.SkipField(wt); break;
            }
        }

        if (graph is null)
            throw new OnnxFormatException("The ModelProto has no graph (field 7); this is not an ONNX model.");
        if (ir <= 0)
            throw new OnnxFormatException("The ModelProto has no ir_version (field 1); this is not an ONNX model.");

        var inputs = graph.Inputs.Where(i => !graph.InitializerNames.Contains(i.Name)).ToArray();
        return new ModelInfo(ir, opsets, producer, producerVersion, domain, modelVersion, doc, graph.Name,
            inputs, graph.Outputs, graph.InitializerCount, graph.InitializerBytes, graph.ExternalCount,
            graph.NodeCount, graph.Histogram, metadata)
        {
            InitializerBytesByType = graph.BytesByType,
        };
    }

    /// <summary>
    /// Decodes the main graph's initializers (weights, scales, zero points) of a serialized model, in file order.
    /// Nodes and subgraphs are not read. Throws <see cref="OnnxFormatException"/> for malformed input or
    /// initializers this library cannot hold (external data, unsupported element types).
    /// </summary>
    public static IReadOnlyList<OnnxTensor> ReadInitializers(ReadOnlySpan<byte> model)
    {
        var result = new List<OnnxTensor>();
        var r = new ProtoReader(model, "ModelProto");
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field != 7 || wt != WireType.LengthDelimited)
            {
                r.SkipField(wt);
                continue;
            }
            var g = r.ReadMessage("GraphProto");
            while (g.TryReadTag(out int gf, out WireType gwt))
            {
                if (gf == 5 && gwt == WireType.LengthDelimited) result.Add(TensorProtoCodec.Read(g.ReadMessage("TensorProto")));
                else g.SkipField(gwt);
            }
        }
        return result;
    }

    private sealed class GraphSummary
    {
        public string Name = "";
        public readonly List<OnnxValueInfo> Inputs = [];
        public readonly List<OnnxValueInfo> Outputs = [];
        public readonly HashSet<string> InitializerNames = [];
        public int InitializerCount, ExternalCount, NodeCount;
        public long InitializerBytes;
        public readonly SortedDictionary<string, long> BytesByType = new(StringComparer.Ordinal);
        public readonly SortedDictionary<string, int> Histogram = new(StringComparer.Ordinal);
    }

    private static GraphSummary ReadGraph(ProtoReader r)
    {
        var g = new GraphSummary();
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                    r.ExpectWireType(wt, WireType.LengthDelimited, field);
                    string op = ReadNodeOpType(r.ReadMessage("NodeProto"));
                    g.NodeCount++;
                    g.Histogram[op] = g.Histogram.GetValueOrDefault(op) + 1;
                    break;
                case 2: r.ExpectWireType(wt, WireType.LengthDelimited, field); g.Name = r.ReadString(); break;
                case 5:
                    r.ExpectWireType(wt, WireType.LengthDelimited, field);
                    var (name, bytes, external, type) = ScanTensor(r.ReadMessage("TensorProto"));
                    string typeName = ElementTypes.Name(type);
                    g.BytesByType[typeName] = SaturatingAdd(g.BytesByType.GetValueOrDefault(typeName), bytes);
                    g.InitializerCount++;
                    g.InitializerBytes = SaturatingAdd(g.InitializerBytes, bytes);
                    if (external) g.ExternalCount++;
                    g.InitializerNames.Add(name);
                    break;
                case 11: r.ExpectWireType(wt, WireType.LengthDelimited, field); g.Inputs.Add(ReadValueInfo(r.ReadMessage("ValueInfoProto"))); break;
                case 12: r.ExpectWireType(wt, WireType.LengthDelimited, field); g.Outputs.Add(ReadValueInfo(r.ReadMessage("ValueInfoProto"))); break;
                default: r.SkipField(wt); break;
            }
        }
        return g;
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static string ReadNodeOpType(ProtoReader r)
    {
        string op = "", domain = "";
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 4 && wt == WireType.LengthDelimited) op = r.ReadString();
            else if (field == 7 && wt == WireType.LengthDelimited) domain = r.ReadString();
            else r.SkipField(wt);
        }
        if (op.Length == 0)
            throw new OnnxFormatException("A NodeProto has no op_type.");
        return domain is "" or "ai.onnx" ? op : $"{domain}:{op}";
    }

    /// <summary>Name, data size and external flag of an initializer without decoding its values.</summary>
    private static (string Name, long Bytes, bool External, OnnxElementType Type) ScanTensor(ProtoReader r)
    {
        string name = "";
        int type = 0;
        long count = 1, rawBytes = -1, stringBytes = 0;
        bool external = false;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case TensorProtoCodec.FieldDims:
                    var dims = new List<long>();
                    r.ReadRepeatedVarint(wt, dims, field);
                    foreach (long d in dims)
                        count = d < 0 || count < 0 ? -1 : (long)Math.Min((double)count * d, long.MaxValue);
                    break;
                case TensorProtoCodec.FieldDataType: r.ExpectWireType(wt, WireType.Varint, field); type = r.ReadInt32(); break;
                case TensorProtoCodec.FieldName: r.ExpectWireType(wt, WireType.LengthDelimited, field); name = r.ReadString(); break;
                case TensorProtoCodec.FieldRawData: r.ExpectWireType(wt, WireType.LengthDelimited, field); rawBytes = r.ReadLengthDelimited().Length; break;
                case TensorProtoCodec.FieldStringData: r.ExpectWireType(wt, WireType.LengthDelimited, field); stringBytes += r.ReadLengthDelimited().Length; break;
                case TensorProtoCodec.FieldDataLocation: r.ExpectWireType(wt, WireType.Varint, field); external |= r.ReadInt32() == 1; break;
                default: r.SkipField(wt); break;
            }
        }
        if (count < 0)
            throw new OnnxFormatException($"Initializer '{name}' has a negative dimension.");
        long bytes = rawBytes >= 0 ? rawBytes
            : type == (int)OnnxElementType.String ? stringBytes
            : external ? 0
            : (long)Math.Min((double)count * Math.Max(1, ElementTypes.SizeOf((OnnxElementType)type)), long.MaxValue); // dims are claims: saturate
        return (name, bytes, external, (OnnxElementType)type);
    }

    private static OnnxValueInfo ReadValueInfo(ProtoReader r)
    {
        string name = "";
        var type = OnnxElementType.Undefined;
        IReadOnlyList<OnnxDim>? shape = null;
        var kind = OnnxTypeKind.Unknown;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1 && wt == WireType.LengthDelimited) name = r.ReadString();
            else if (field == 2 && wt == WireType.LengthDelimited) (kind, type, shape) = ReadType(r.ReadMessage("TypeProto"));
            else r.SkipField(wt);
        }
        return new OnnxValueInfo(name, type, shape, kind);
    }

    private static (OnnxTypeKind, OnnxElementType, IReadOnlyList<OnnxDim>?) ReadType(ProtoReader r)
    {
        var result = (OnnxTypeKind.Unknown, OnnxElementType.Undefined, (IReadOnlyList<OnnxDim>?)null);
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                // TypeProto oneof value: tensor_type 1, sequence_type 4, map_type 5, sparse_tensor_type 8, optional_type 9.
                // Sparse tensors share the Tensor layout (elem_type 1, shape 2).
                case 1 or 8 when wt == WireType.LengthDelimited:
                    var (t, s) = ReadTensorType(r.ReadMessage("TypeProto.Tensor"));
                    result = (field == 1 ? OnnxTypeKind.Tensor : OnnxTypeKind.SparseTensor, t, s);
                    break;
                case 4: result.Item1 = OnnxTypeKind.Sequence; r.SkipField(wt); break;
                case 5: result.Item1 = OnnxTypeKind.Map; r.SkipField(wt); break;
                case 9: result.Item1 = OnnxTypeKind.Optional; r.SkipField(wt); break;
                default: r.SkipField(wt); break;
            }
        }
        return result;
    }

    private static (OnnxElementType, IReadOnlyList<OnnxDim>?) ReadTensorType(ProtoReader r)
    {
        var type = OnnxElementType.Undefined;
        List<OnnxDim>? shape = null;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1 && wt == WireType.Varint) type = (OnnxElementType)r.ReadInt32();
            else if (field == 2 && wt == WireType.LengthDelimited)
            {
                shape = [];
                var sr = r.ReadMessage("TensorShapeProto");
                while (sr.TryReadTag(out int f2, out WireType w2))
                {
                    if (f2 == 1 && w2 == WireType.LengthDelimited) shape.Add(ReadDim(sr.ReadMessage("TensorShapeProto.Dimension")));
                    else sr.SkipField(w2);
                }
            }
            else r.SkipField(wt);
        }
        return (type, shape);
    }

    private static OnnxDim ReadDim(ProtoReader r)
    {
        var dim = OnnxDim.Unknown;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1 && wt == WireType.Varint)
            {
                long v = r.ReadInt64();
                // Exporters write -1 for "unknown" now and then; treat any negative as unknown rather than fail.
                dim = v >= 0 ? OnnxDim.Fixed(v) : OnnxDim.Unknown;
            }
            else if (field == 2 && wt == WireType.LengthDelimited)
            {
                string p = r.ReadString();
                dim = p.Length > 0 ? OnnxDim.Symbolic(p) : OnnxDim.Unknown;
            }
            else r.SkipField(wt);
        }
        return dim;
    }

    private static OnnxOpsetImport ReadOpset(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1 && wt == WireType.LengthDelimited) domain = r.ReadString();
            else if (field == 2 && wt == WireType.Varint) version = r.ReadInt64();
            else r.SkipField(wt);
        }
        return new OnnxOpsetImport(domain, version);
    }

    private static KeyValuePair<string, string> ReadEntry(ProtoReader r)
    {
        string key = "", value = "";
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1 && wt == WireType.LengthDelimited) key = r.ReadString();
            else if (field == 2 && wt == WireType.LengthDelimited) value = r.ReadString();
            else r.SkipField(wt);
        }
        return new(key, value);
    }
}
