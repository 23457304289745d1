using System.Runtime.InteropServices;
using System.Text;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Onnx.Native;

/// <summary>Conversions between ORT values/type infos and EdgeAgent's managed types (allocating; not for the hot path).</summary>
internal static unsafe class OrtTensors
{
    /// <summary>Reads the declared type of a model input or output from an <c>OrtTypeInfo*</c> (not released here).</summary>
    public static TensorSpec Describe(OrtApi api, nint typeInfo, string name)
    {
        int onnxType;
        OrtStatus.Check(api, api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType), "reading the type of", name);
        var kind = (OnnxValueKind)onnxType;
        if (kind != OnnxValueKind.Tensor)
            return new TensorSpec(name, kind, OnnxElementType.Undefined, []);

        nint tensorInfo; // owned by typeInfo: do not release
        OrtStatus.Check(api, api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo), "reading the tensor type of", name);
        return DescribeTensorInfo(api, tensorInfo, name, kind);
    }

    public static TensorSpec DescribeTensorInfo(OrtApi api, nint tensorInfo, string name, OnnxValueKind kind = OnnxValueKind.Tensor)
    {
        int elementType;
        OrtStatus.Check(api, api.GetTensorElementType(tensorInfo, &elementType), "reading the element type of", name);
        nuint rank;
        OrtStatus.Check(api, api.GetDimensionsCount(tensorInfo, &rank), "reading the rank of", name);
        var dims = new long[(int)rank];
        var symbols = new string[(int)rank];
        if (rank > 0)
        {
            fixed (long* d = dims)
                OrtStatus.Check(api, api.GetDimensions(tensorInfo, d, rank), "reading the shape of", name);
            var names = new byte*[(int)rank];
            fixed (byte** n = names)
                OrtStatus.Check(api, api.GetSymbolicDimensions(tensorInfo, n, rank), "reading the symbolic dimensions of", name);
            for (int i = 0; i < names.Length; i++)
                symbols[i] = OrtApi.ReadUtf8(names[i]) ?? string.Empty;
        }
        return new TensorSpec(name, kind, (OnnxElementType)elementType, dims, symbols);
    }

    /// <summary>Creates an ORT tensor over caller-owned memory (the memory must outlive the value). Returns the <c>OrtValue*</c>.</summary>
    public static nint CreateOver(OrtApi api, nint memoryInfo, void* data, nuint bytes, ReadOnlySpan<long> shape,
        OnnxElementType type, string name)
    {
        nint value;
        fixed (long* s = shape)
            OrtStatus.Check(api, api.CreateTensorWithDataAsOrtValue(memoryInfo, data, bytes, s, (nuint)shape.Length, (int)type, &value),
                "creating the tensor for", name);
        return value;
    }

    /// <summary>Creates an ORT-owned string tensor filled with <paramref name="strings"/> (UTF-8).</summary>
    public static nint CreateStrings(OrtApi api, nint allocator, ReadOnlySpan<long> shape, string[] strings, string name)
    {
        nint value;
        fixed (long* s = shape)
            OrtStatus.Check(api, api.CreateTensorAsOrtValue(allocator, s, (nuint)shape.Length, (int)OnnxElementType.String, &value),
                "creating the string tensor for", name);
        try
        {
            // One NUL-terminated UTF-8 copy of each string; ORT copies them into the tensor.
            int total = 0;
            foreach (var str in strings) total += Encoding.UTF8.GetByteCount(str) + 1;
            var bytes = new byte[Math.Max(total, 1)];
            var pointers = new nint[strings.Length];
            fixed (byte* b = bytes)
            fixed (nint* p = pointers)
            {
                int offset = 0;
                for (int i = 0; i < strings.Length; i++)
                {
                    pointers[i] = (nint)(b + offset);
                    offset += Encoding.UTF8.GetBytes(strings[i], bytes.AsSpan(offset));
                    bytes[offset++] = 0;
                }
                OrtStatus.Check(api, api.FillStringTensor(value, (byte**)p, (nuint)strings.Length), "filling the string tensor for", name);
            }
            return value;
        }
        catch
        {
            api.ReleaseValue(value);
            throw;
        }
    }

    /// <summary>Copies an ORT output value into a managed <see cref="OnnxTensor"/> (value not released here).</summary>
    public static OnnxTensor Read(OrtApi api, nint value, string name)
    {
        int valueType;
        OrtStatus.Check(api, api.GetValueType(value, &valueType), "reading the kind of output", name);
        if ((OnnxValueKind)valueType != OnnxValueKind.Tensor)
            throw new ModelContractException(
                $"model output '{name}' is a {TensorSpec.KindText((OnnxValueKind)valueType)}; EdgeAgent reads tensor outputs only");

        nint info;
        OrtStatus.Check(api, api.GetTensorTypeAndShape(value, &info), "reading the shape of output", name);
        TensorSpec spec;
        try { spec = DescribeTensorInfo(api, info, name); }
        finally { api.ReleaseTensorTypeAndShapeInfo(info); }

        long count = OnnxTensor.ElementCountOf(spec.Shape)
            ?? throw new ModelContractException($"model output '{name}' has an invalid shape {spec.ShapeText}");
        if (count > Array.MaxLength)
            throw new ModelContractException($"model output '{name}' has {count} elements, more than EdgeAgent can copy");

        if (spec.ElementType == OnnxElementType.String)
            return OnnxTensor.Create(name, spec.Shape, ReadStrings(api, value, (int)count, name));

        Type? arrayType = OnnxTensor.ClrArrayType(spec.ElementType);
        if (arrayType is null)
            throw new ModelContractException(
                $"model output '{name}' has element type {ElementTypes.Name(spec.ElementType)}, which EdgeAgent does not support");

        var tensor = OnnxTensor.Zeros(name, spec.ElementType, spec.Shape);
        if (count > 0)
        {
            void* data;
            OrtStatus.Check(api, api.GetTensorMutableData(value, &data), "reading the data of output", name);
            var target = TensorBytes.Of(tensor.Data);
            new ReadOnlySpan<byte>(data, target.Length).CopyTo(target);
        }
        return tensor;
    }

    private static string[] ReadStrings(OrtApi api, nint value, int count, string name)
    {
        var result = new string[count];
        if (count == 0) return result;
        nuint length;
        OrtStatus.Check(api, api.GetStringTensorDataLength(value, &length), "reading the strings of output", name);
        var bytes = new byte[(int)length + 1];
        var offsets = new nuint[count];
        fixed (byte* b = bytes)
        fixed (nuint* o = offsets)
            OrtStatus.Check(api, api.GetStringTensorContent(value, b, length, o, (nuint)count), "reading the strings of output", name);
        for (int i = 0; i < count; i++)
        {
            int start = (int)offsets[i];
            int end = i + 1 < count ? (int)offsets[i + 1] : (int)length;
            result[i] = Encoding.UTF8.GetString(bytes, start, end - start);
        }
        return result;
    }
}

/// <summary>Byte views of the typed arrays held by <see cref="OnnxTensor.Data"/> (numeric and bool types).</summary>
internal static class TensorBytes
{
    public static Span<byte> Of(Array data) => data switch
    {
        float[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        double[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        sbyte[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        byte[] a => a.AsSpan(),
        short[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        ushort[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        int[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        uint[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        long[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        ulong[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        bool[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        Half[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        _ => throw new ArgumentException($"{data.GetType().Name} has no fixed-size byte representation."),
    };
}
