using System.Globalization;
using System.Text.Json;

namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Turns JSON given on a command line or in a file into tensors of a target element type. Accepted forms:
/// <list type="bullet">
/// <item>nested arrays, whose nesting gives the shape: <c>[[1,2,3],[4,5,6]]</c> → [2,3]; a bare number is a scalar;</item>
/// <item><c>{"dims":[2,3],"data":[1,2,3,4,5,6]}</c> (<c>"shape"</c> is accepted for <c>"dims"</c>; data may be nested).</item>
/// </list>
/// Numbers must fit the target type (integers for integer types); floats also accept the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>; bool accepts true/false and 0/1; string tensors take
/// JSON strings. Ragged arrays and anything else are rejected with the position of the offending value.
/// Uses <see cref="JsonDocument"/> only (no reflection). Thread-safe (stateless).
/// </summary>
public static class JsonTensorReader
{
    private static readonly JsonDocumentOptions Options = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 64,
    };

    /// <summary>Parses one tensor.</summary>
    /// <exception cref="OnnxFormatException">Invalid JSON, ragged arrays, wrong value types or values out of range.</exception>
    public static OnnxTensor Parse(string json, OnnxElementType type, string name = "input") =>
        Parse(System.Text.Encoding.UTF8.GetBytes(json), type, name);

    /// <inheritdoc cref="Parse(string, OnnxElementType, string)"/>
    public static OnnxTensor Parse(ReadOnlySpan<byte> utf8Json, OnnxElementType type, string name = "input")
    {
        using var doc = ParseDocument(utf8Json, $"Input '{name}'");
        return FromElement(doc.RootElement, type, name);
    }

    /// <summary>
    /// Parses one tensor for a model input: element type and name come from <paramref name="input"/>, and the
    /// values may be given flat or with any nesting whose element count fits the input's shape. A shape that
    /// already fits (symbolic or unknown dims match any size) is kept; otherwise the values are reshaped to the
    /// declared shape, inferring at most one non-fixed dimension (typically the batch) from the count.
    /// </summary>
    /// <exception cref="OnnxFormatException">The values cannot be read or do not fit the input, e.g.
    /// "input 'window' expects float32[1,3,128] (384 values) but the JSON has shape [2,3] (6 values)".</exception>
    public static OnnxTensor ParseFor(ReadOnlySpan<byte> utf8Json, OnnxValueInfo input)
    {
        var tensor = Parse(utf8Json, input.ElementType, input.Name);
        return FitTo(tensor, input);
    }

    /// <summary>Reshapes <paramref name="tensor"/> to <paramref name="input"/>'s declared shape when needed (see <see cref="ParseFor"/>).</summary>
    public static OnnxTensor FitTo(OnnxTensor tensor, OnnxValueInfo input)
    {
        if (input.Shape is null) return tensor;
        var shape = input.Shape;
        bool fits = tensor.Dims.Length == shape.Count && shape.Select((d, i) => d.Value is not long v || v == tensor.Dims[i]).All(x => x);
        if (fits) return tensor;

        long fixedProduct = 1;
        int open = -1, openCount = 0;
        for (int i = 0; i < shape.Count; i++)
        {
            if (shape[i].Value is long v) fixedProduct = v == 0 || fixedProduct <= long.MaxValue / v ? fixedProduct * v : long.MaxValue;
            else
            {
                open = i;
                openCount++;
            }
        }
        long count = tensor.ElementCount;
        if (openCount == 0 && count == fixedProduct)
            return tensor.Reshape(shape.Select(d => d.Value!.Value).ToArray());
        if (openCount == 1 && fixedProduct > 0 && count % fixedProduct == 0)
            return tensor.Reshape(shape.Select((d, i) => i == open ? count / fixedProduct : d.Value!.Value).ToArray());

        string need = openCount == 0 ? $"{fixedProduct} values" : $"a multiple of {fixedProduct} values";
        throw new OnnxFormatException(
            $"Input '{input.Name}' expects {ElementTypes.Name(input.ElementType)}{OnnxDim.Format(shape)} ({need}) but the JSON has shape [{string.Join(',', tensor.Dims)}] ({count} values).");
    }

    /// <summary>
    /// Parses an object mapping input names to tensors (<c>{"x":[[…]], "mask":{"dims":…,"data":…}}</c>),
    /// using <paramref name="inputTypes"/> for each input's element type. Unknown names are rejected.
    /// </summary>
    public static IReadOnlyList<OnnxTensor> ParseNamed(ReadOnlySpan<byte> utf8Json, IReadOnlyDictionary<string, OnnxElementType> inputTypes)
    {
        using var doc = ParseDocument(utf8Json, "The JSON inputs");
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new OnnxFormatException($"Expected a JSON object mapping input names ({string.Join(", ", inputTypes.Keys)}) to tensors.");
        var result = new List<OnnxTensor>();
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            if (!inputTypes.TryGetValue(property.Name, out var type))
                throw new OnnxFormatException($"JSON names input '{property.Name}', but the model's inputs are {string.Join(", ", inputTypes.Keys)}.");
            result.Add(FromElement(property.Value, type, property.Name));
        }
        return result;
    }

    /// <summary>Converts an already parsed JSON value (nested arrays, scalar or dims/data object).</summary>
    public static OnnxTensor FromElement(JsonElement root, OnnxElementType type, string name)
    {
        if (!ElementTypes.IsSupported(type))
            throw new OnnxFormatException($"Input '{name}': element type {ElementTypes.Name(type)} cannot be read from JSON.");

        long[]? declaredDims = null;
        JsonElement values = root;
        if (root.ValueKind == JsonValueKind.Object)
        {
            JsonElement? data = null;
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "dims" or "shape": declaredDims = ReadDims(p.Value, name); break;
                    case "data": data = p.Value; break;
                    default: throw new OnnxFormatException($"Input '{name}': unexpected key '{p.Name}' (expected \"dims\" and \"data\").");
                }
            }
            if (data is null || declaredDims is null)
                throw new OnnxFormatException($"Input '{name}': an object needs both \"dims\" and \"data\".");
            values = data.Value;
        }

        var leaves = new List<JsonElement>();
        var shape = new List<long>();
        InferShape(values, shape);
        Collect(values, shape, 0, leaves, [], name);

        long[] dims = shape.ToArray();
        if (declaredDims is not null)
        {
            long declaredCount = OnnxTensor.ElementCountOf(declaredDims)
                ?? throw new OnnxFormatException($"Input '{name}': dims [{string.Join(',', declaredDims)}] overflow the element count.");
            if (declaredCount != leaves.Count)
                throw new OnnxFormatException(
                    $"Input '{name}': dims [{string.Join(',', declaredDims)}] need {declaredCount} values but \"data\" has {leaves.Count}.");
            dims = declaredDims;
        }
        return OnnxTensor.Create(name, type, dims, Convert(leaves, type, dims.Length == shape.Count ? shape.ToArray() : null, name));
    }

    private static JsonDocument ParseDocument(ReadOnlySpan<byte> utf8Json, string what)
    {
        // JsonDocument accepts invalid UTF-8 inside strings and only fails later, when a property name or string
        // is read, with an InvalidOperationException; check up front so the caller gets one clear message.
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
            throw new OnnxFormatException($"{what} is not valid UTF-8 text.");
        try
        {
            return JsonDocument.Parse(utf8Json.ToArray(), Options);
        }
        catch (JsonException e)
        {
            throw new OnnxFormatException($"{what} is not valid JSON: {e.Message}", e);
        }
    }

    private static long[] ReadDims(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Array)
            throw new OnnxFormatException($"Input '{name}': \"dims\" must be an array of non-negative integers.");
        var dims = new List<long>();
        foreach (var d in e.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new OnnxFormatException($"Input '{name}': \"dims\" must be an array of non-negative integers, found {d.GetRawText()}.");
            dims.Add(v);
        }
        return dims.ToArray();
    }

    /// <summary>The shape implied by following the first element at each level.</summary>
    private static void InferShape(JsonElement e, List<long> shape)
    {
        while (e.ValueKind == JsonValueKind.Array)
        {
            int n = e.GetArrayLength();
            shape.Add(n);
            if (n == 0) return;
            e = e[0];
        }
    }

    private static void Collect(JsonElement e, List<long> shape, int depth, List<JsonElement> leaves, List<int> path, string name)
    {
        if (depth == shape.Count)
        {
            if (e.ValueKind == JsonValueKind.Array)
                throw new OnnxFormatException($"Input '{name}': ragged array — {Where(path)} is an array where a value was expected (shape so far [{string.Join(',', shape)}]).");
            leaves.Add(e);
            return;
        }
        if (e.ValueKind != JsonValueKind.Array)
            throw new OnnxFormatException($"Input '{name}': ragged array — {Where(path)} is a value where an array of {shape[depth]} was expected.");
        int n = e.GetArrayLength();
        if (n != shape[depth])
            throw new OnnxFormatException($"Input '{name}': ragged array — {Where(path)} has {n} elements, expected {shape[depth]} like the first one at that depth.");
        int i = 0;
        foreach (var child in e.EnumerateArray())
        {
            path.Add(i++);
            Collect(child, shape, depth + 1, leaves, path, name);
            path.RemoveAt(path.Count - 1);
        }
    }

    private static string Where(List<int> path) => path.Count == 0 ? "the top level" : $"element [{string.Join(',', path)}]";

    private static Array Convert(List<JsonElement> leaves, OnnxElementType type, long[]? shape, string name)
    {
        int n = leaves.Count;
        switch (type)
        {
            case OnnxElementType.String:
            {
                var a = new string[n];
                for (int i = 0; i < n; i++)
                    a[i] = leaves[i].ValueKind == JsonValueKind.String ? leaves[i].GetString()! : throw Bad(i, "is not a string");
                return a;
            }
            case OnnxElementType.Bool:
            {
                var a = new bool[n];
                for (int i = 0; i < n; i++)
                {
                    var e = leaves[i];
                    a[i] = e.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        JsonValueKind.Number when e.GetRawText() is "0" => false,
                        JsonValueKind.Number when e.GetRawText() is "1" => true,
                        _ => throw Bad(i, "is not a boolean (true, false, 0 or 1)"),
                    };
                }
                return a;
            }
            case OnnxElementType.Float: { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)Floating(i); return a; }
            case OnnxElementType.Double: { var a = new double[n]; for (int i = 0; i < n; i++) a[i] = Floating(i); return a; }
            case OnnxElementType.Float16: { var a = new Half[n]; for (int i = 0; i < n; i++) a[i] = (Half)Floating(i); return a; }
            case OnnxElementType.Int8: { var a = new sbyte[n]; for (int i = 0; i < n; i++) a[i] = (sbyte)Integer(i, sbyte.MinValue, sbyte.MaxValue); return a; }
            case OnnxElementType.UInt8: { var a = new byte[n]; for (int i = 0; i < n; i++) a[i] = (byte)Integer(i, 0, byte.MaxValue); return a; }
            case OnnxElementType.Int16: { var a = new short[n]; for (int i = 0; i < n; i++) a[i] = (short)Integer(i, short.MinValue, short.MaxValue); return a; }
            case OnnxElementType.UInt16: { var a = new ushort[n]; for (int i = 0; i < n; i++) a[i] = (ushort)Integer(i, 0, ushort.MaxValue); return a; }
            case OnnxElementType.Int32: { var a = new int[n]; for (int i = 0; i < n; i++) a[i] = (int)Integer(i, int.MinValue, int.MaxValue); return a; }
            case OnnxElementType.UInt32: { var a = new uint[n]; for (int i = 0; i < n; i++) a[i] = (uint)Integer(i, 0, uint.MaxValue); return a; }
            case OnnxElementType.Int64: { var a = new long[n]; for (int i = 0; i < n; i++) a[i] = Integer(i, long.MinValue, long.MaxValue); return a; }
            case OnnxElementType.UInt64:
            {
                var a = new ulong[n];
                for (int i = 0; i < n; i++)
                    a[i] = leaves[i].ValueKind == JsonValueKind.Number && leaves[i].TryGetUInt64(out ulong v) ? v : throw Bad(i, "is not an integer in the uint64 range");
                return a;
            }
            default:
                throw new OnnxFormatException($"Input '{name}': element type {ElementTypes.Name(type)} cannot be read from JSON.");
        }

        double Floating(int i)
        {
            var e = leaves[i];
            if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d) && double.IsFinite(d)) return d;
            if (e.ValueKind == JsonValueKind.String)
            {
                switch (e.GetString())
                {
                    case "NaN" or "nan": return double.NaN;
                    case "Infinity" or "inf" or "+Infinity": return double.PositiveInfinity;
                    case "-Infinity" or "-inf": return double.NegativeInfinity;
                }
            }
            throw Bad(i, $"is not a number (use \"NaN\", \"Infinity\" or \"-Infinity\" for those values)");
        }

        long Integer(int i, long min, long max)
        {
            var e = leaves[i];
            if (e.ValueKind != JsonValueKind.Number) throw Bad(i, "is not a number");
            if (!e.TryGetInt64(out long v))
            {
                // 3.0 is an integer written as a float; 3.5 or 1e30 are not acceptable for an integer type.
                if (e.TryGetDouble(out double d) && d == Math.Floor(d) && d >= min && d <= max) v = (long)d;
                else throw Bad(i, $"is not an integer in the {ElementTypes.Name(type)} range [{min}, {max}]");
            }
            if (v < min || v > max) throw Bad(i, $"is out of range for {ElementTypes.Name(type)} [{min}, {max}]");
            return v;
        }

        OnnxFormatException Bad(int flat, string what) =>
            new($"Input '{name}': value {Truncate(leaves[flat].GetRawText())} at {Index(flat)} {what}.");

        string Index(int flat)
        {
            if (shape is null || shape.Length == 0) return $"position {flat}";
            var idx = new long[shape.Length];
            long rest = flat;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (shape[d] == 0) break;
                idx[d] = rest % shape[d];
                rest /= shape[d];
            }
            return $"[{string.Join(',', idx.Select(x => x.ToString(CultureInfo.InvariantCulture)))}]";
        }
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
