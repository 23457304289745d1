using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using EdgeAgent.OnnxFormat.Protobuf;

namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Reads and writes ONNX <c>TensorProto</c> messages, the format of initializers inside a model and of
/// the <c>input_N.pb</c>/<c>output_N.pb</c> files of the ONNX backend test data.
/// </summary>
/// <remarks>
/// Field numbers (onnx.proto, TensorProto): dims 1, data_type 2, segment 3, float_data 4 (packed),
/// int32_data 5 (packed), string_data 6, int64_data 7 (packed), name 8, raw_data 9, double_data 10
/// (packed), uint64_data 11 (packed), doc_string 12, external_data 13, data_location 14.
/// Per the schema, int32_data also carries int8, uint8, int16, uint16, bool and float16 (as the raw
/// 16-bit pattern), and uint64_data carries uint32 and uint64. All methods are thread-safe (stateless).
/// </remarks>
public static class TensorProtoCodec
{
    internal const int FieldDims = 1, FieldDataType = 2, FieldSegment = 3, FieldFloatData = 4, FieldInt32Data = 5,
        FieldStringData = 6, FieldInt64Data = 7, FieldName = 8, FieldRawData = 9, FieldDoubleData = 10,
        FieldUInt64Data = 11, FieldDocString = 12, FieldExternalData = 13, FieldDataLocation = 14;

    /// <summary>Decodes one serialized <c>TensorProto</c>.</summary>
    /// <exception cref="OnnxFormatException">Malformed protobuf, unsupported element type, external or
    /// segmented data, or a value count that does not match the dimensions.</exception>
    public static OnnxTensor Read(ReadOnlySpan<byte> bytes) => Read(new ProtoReader(bytes, "TensorProto"));

    /// <summary>Reads a <c>.pb</c> TensorProto file.</summary>
    public static OnnxTensor ReadFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Read(bytes);
        }
        catch (OnnxFormatException e)
        {
            throw new OnnxFormatException($"{path}: {e.Message}", e);
        }
    }

    internal static OnnxTensor Read(ProtoReader r)
    {
        var dims = new List<long>();
        int dataType = 0;
        string name = "";
        var floats = new List<uint>();
        var int32s = new List<long>();
        var int64s = new List<long>();
        var doubles = new List<ulong>();
        var uint64s = new List<long>();
        var strings = new List<string>();
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false, external = false, segmented = false;

        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case FieldDims: r.ReadRepeatedVarint(wt, dims, field); break;
                case FieldDataType: r.ExpectWireType(wt, WireType.Varint, field); dataType = r.ReadInt32(); break;
                case FieldSegment: segmented = true; r.SkipField(wt); break;
                case FieldFloatData: r.ReadRepeatedFixed32(wt, floats, field); break;
                case FieldInt32Data: r.ReadRepeatedVarint(wt, int32s, field); break;
                case FieldStringData:
                    r.ExpectWireType(wt, WireType.LengthDelimited, field);
                    // string_data is `bytes`; ONNX says UTF-8 for STRING tensors. Replace invalid sequences
                    // rather than fail: the tensor stays readable and the problem is visible in the value.
                    strings.Add(Encoding.UTF8.GetString(r.ReadLengthDelimited()));
                    break;
                case FieldInt64Data: r.ReadRepeatedVarint(wt, int64s, field); break;
                case FieldName: r.ExpectWireType(wt, WireType.LengthDelimited, field); name = r.ReadString(); break;
                case FieldRawData: r.ExpectWireType(wt, WireType.LengthDelimited, field); raw = r.ReadLengthDelimited(); hasRaw = true; break;
                case FieldDoubleData: r.ReadRepeatedFixed64(wt, doubles, field); break;
                case FieldUInt64Data: r.ReadRepeatedVarint(wt, uint64s, field); break;
                case FieldDataLocation:
                    r.ExpectWireType(wt, WireType.Varint, field);
                    external |= r.ReadInt32() == 1; // DataLocation.EXTERNAL
                    break;
                case FieldExternalData: external = true; r.SkipField(wt); break;
                default: r.SkipField(wt); break;
            }
        }

        string label = name.Length > 0 ? $"tensor '{name}'" : "unnamed tensor";
        var type = (OnnxElementType)dataType;
        if (external)
            throw new OnnxFormatException($"TensorProto {label} stores its data in an external file, which is not supported; embed the data (save the model without external data).");
        if (segmented)
            throw new OnnxFormatException($"TensorProto {label} is a segment of a larger tensor, which is not supported.");
        if (!ElementTypes.IsSupported(type))
            throw new OnnxFormatException($"TensorProto {label} has element type {ElementTypes.Name(type)} ({dataType}), which is not supported.");

        long[] shape = dims.ToArray();
        foreach (long d in shape)
            if (d < 0)
                throw new OnnxFormatException($"TensorProto {label} has negative dimension {d}.");
        long count = OnnxTensor.ElementCountOf(shape)
            ?? throw new OnnxFormatException($"TensorProto {label} dimensions [{string.Join(',', shape)}] overflow the element count.");
        string shapeText = $"[{string.Join(',', shape)}]";

        if (type == OnnxElementType.String)
        {
            if (strings.Count != count)
                throw new OnnxFormatException($"TensorProto {label} has shape {shapeText} ({count} elements) but {strings.Count} string_data values.");
            return OnnxTensor.Create(name, shape, strings.ToArray());
        }

        int size = ElementTypes.SizeOf(type);
        if (hasRaw)
        {
            // The count is checked against the bytes actually present before allocating, so a huge
            // dims claim with little data fails here instead of allocating.
            if ((ulong)raw.Length != (ulong)count * (ulong)size || count > Array.MaxLength)
                throw new OnnxFormatException(
                    $"TensorProto {label} has shape {shapeText} of {ElementTypes.Name(type)} ({count} × {size} bytes) but raw_data has {raw.Length} bytes.");
            return OnnxTensor.Create(name, type, shape, DecodeRaw(type, raw, (int)count));
        }

        int typedCount = type switch
        {
            OnnxElementType.Float => floats.Count,
            OnnxElementType.Double => doubles.Count,
            OnnxElementType.Int64 => int64s.Count,
            OnnxElementType.UInt32 or OnnxElementType.UInt64 => uint64s.Count,
            _ => int32s.Count,
        };
        if (typedCount != count)
            throw new OnnxFormatException(
                $"TensorProto {label} has shape {shapeText} ({count} elements) but {typedCount} values in its typed data field and no raw_data.");
        int n = (int)count;
        Array data = type switch
        {
            OnnxElementType.Float => Map(floats, n, v => BitConverter.Int32BitsToSingle(unchecked((int)v))),
            OnnxElementType.Double => Map(doubles, n, v => BitConverter.Int64BitsToDouble(unchecked((long)v))),
            OnnxElementType.Int64 => int64s.ToArray(),
            OnnxElementType.UInt64 => Map(uint64s, n, v => unchecked((ulong)v)),
            OnnxElementType.UInt32 => Map(uint64s, n, v => checked((uint)(ulong)v)),
            OnnxElementType.Int32 => Map(int32s, n, v => unchecked((int)v)),
            OnnxElementType.Int16 => Map(int32s, n, v => checked((short)(int)v)),
            OnnxElementType.UInt16 => Map(int32s, n, v => checked((ushort)(int)v)),
            OnnxElementType.Int8 => Map(int32s, n, v => checked((sbyte)(int)v)),
            OnnxElementType.UInt8 => Map(int32s, n, v => checked((byte)(int)v)),
            OnnxElementType.Bool => Map(int32s, n, v => (int)v != 0),
            OnnxElementType.Float16 => Map(int32s, n, v => BitConverter.UInt16BitsToHalf(checked((ushort)(int)v))),
            _ => throw new OnnxFormatException($"TensorProto {label}: element type {ElementTypes.Name(type)} is not supported."),
        };
        return OnnxTensor.Create(name, type, shape, data);

        T[] Map<TIn, T>(List<TIn> src, int len, Func<TIn, T> f)
        {
            var result = new T[len];
            try
            {
                for (int i = 0; i < len; i++) result[i] = f(src[i]);
            }
            catch (OverflowException)
            {
                throw new OnnxFormatException($"TensorProto {label}: a typed data value is out of range for {ElementTypes.Name(type)}.");
            }
            return result;
        }
    }

    /// <summary>Encodes a tensor as a <c>TensorProto</c>. Strings always use <c>string_data</c>.</summary>
    public static byte[] Write(OnnxTensor tensor, TensorDataEncoding encoding = TensorDataEncoding.Raw)
    {
        var w = new ProtoWriter(64 + (int)Math.Min(int.MaxValue / 2, tensor.ElementCount * Math.Max(1, ElementTypes.SizeOf(tensor.ElementType))));
        WriteTo(w, tensor, encoding);
        return w.ToArray();
    }

    internal static void WriteTo(ProtoWriter w, OnnxTensor tensor, TensorDataEncoding encoding)
    {
        // Field-number order, as protobuf serializers emit it. dims is a proto2 repeated int64 without
        // [packed=true], so the unpacked form is what onnx's own serializer writes.
        foreach (long d in tensor.Dims) w.WriteInt64Field(FieldDims, d);
        w.WriteInt32Field(FieldDataType, (int)tensor.ElementType);

        if (tensor.Data is string[] strings)
        {
            foreach (string s in strings) w.WriteBytesField(FieldStringData, Encoding.UTF8.GetBytes(s));
            w.WriteStringFieldIfSet(FieldName, tensor.Name);
            return;
        }

        if (encoding == TensorDataEncoding.Raw)
        {
            w.WriteStringFieldIfSet(FieldName, tensor.Name);
            w.WriteBytesField(FieldRawData, EncodeRaw(tensor));
            return;
        }

        // Switch on the element type, not the array's runtime type: the CLR lets a ushort[] pass as
        // short[] (and byte[]/sbyte[], uint[]/int[], ulong[]/long[]), so `is short[]` would misfile it.
        var data = tensor.Data;
        switch (tensor.ElementType)
        {
            case OnnxElementType.Float:
                w.WritePackedFixed32(FieldFloatData, ((float[])data).Select(v => unchecked((uint)BitConverter.SingleToInt32Bits(v))).ToArray());
                break;
            case OnnxElementType.Int32: w.WritePackedVarints(FieldInt32Data, ((int[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.Int16: w.WritePackedVarints(FieldInt32Data, ((short[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.UInt16: w.WritePackedVarints(FieldInt32Data, ((ushort[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.Int8: w.WritePackedVarints(FieldInt32Data, ((sbyte[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.UInt8: w.WritePackedVarints(FieldInt32Data, ((byte[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.Bool: w.WritePackedVarints(FieldInt32Data, ((bool[])data).Select(v => v ? 1L : 0L).ToArray()); break;
            case OnnxElementType.Float16: w.WritePackedVarints(FieldInt32Data, ((Half[])data).Select(v => (long)BitConverter.HalfToUInt16Bits(v)).ToArray()); break;
            case OnnxElementType.Int64: w.WritePackedVarints(FieldInt64Data, (long[])data); break;
        }
        w.WriteStringFieldIfSet(FieldName, tensor.Name);
        switch (tensor.ElementType)
        {
            case OnnxElementType.Double:
                w.WritePackedFixed64(FieldDoubleData, ((double[])data).Select(v => unchecked((ulong)BitConverter.DoubleToInt64Bits(v))).ToArray());
                break;
            case OnnxElementType.UInt32: w.WritePackedVarints(FieldUInt64Data, ((uint[])data).Select(v => (long)v).ToArray()); break;
            case OnnxElementType.UInt64: w.WritePackedVarints(FieldUInt64Data, ((ulong[])data).Select(v => unchecked((long)v)).ToArray()); break;
        }
    }

    /// <summary>Little-endian bytes of a numeric tensor, as in <c>raw_data</c> (also the ORT tensor buffer layout).</summary>
    public static byte[] EncodeRaw(OnnxTensor tensor)
    {
        int size = ElementTypes.SizeOf(tensor.ElementType);
        if (size == 0)
            throw new OnnxFormatException($"Tensor '{tensor.Name}' of type {ElementTypes.Name(tensor.ElementType)} has no raw byte form.");
        var bytes = new byte[checked((int)(tensor.ElementCount * size))];
        Span<byte> o = bytes;
        if (BitConverter.IsLittleEndian && tensor.ElementType != OnnxElementType.Bool)
        {
            // The array's memory image is the little-endian layout; Buffer.BlockCopy works on any primitive array.
            if (tensor.ElementType == OnnxElementType.Float16) MemoryMarshal.AsBytes(((Half[])tensor.Data).AsSpan()).CopyTo(o);
            else Buffer.BlockCopy(tensor.Data, 0, bytes, 0, bytes.Length);
            return bytes;
        }
        // Bit patterns are what matter here, but dispatch on the element type anyway (see WriteTo).
        switch (tensor.ElementType == OnnxElementType.String ? null : tensor.Data)
        {
            case float[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(o[(i * 4)..], a[i]); break;
            case double[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(o[(i * 8)..], a[i]); break;
            case Half[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(o[(i * 2)..], a[i]); break;
            case sbyte[] a: for (int i = 0; i < a.Length; i++) o[i] = unchecked((byte)a[i]); break;
            case byte[] a: a.CopyTo(o); break;
            case bool[] a: for (int i = 0; i < a.Length; i++) o[i] = a[i] ? (byte)1 : (byte)0; break;
            case short[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(o[(i * 2)..], a[i]); break;
            case ushort[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(o[(i * 2)..], a[i]); break;
            case int[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(o[(i * 4)..], a[i]); break;
            case uint[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(o[(i * 4)..], a[i]); break;
            case long[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(o[(i * 8)..], a[i]); break;
            case ulong[] a: for (int i = 0; i < a.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(o[(i * 8)..], a[i]); break;
        }
        return bytes;
    }

    private static T[] Copy<T>(ReadOnlySpan<byte> raw, int count) where T : unmanaged
    {
        var a = new T[count];
        raw.CopyTo(MemoryMarshal.AsBytes(a.AsSpan()));
        return a;
    }

    /// <summary>Decodes little-endian bytes (the <c>raw_data</c> layout) into the typed array for <paramref name="type"/>.</summary>
    /// <exception cref="OnnxFormatException">The byte count is not <paramref name="count"/> × element size, or the type is unsupported.</exception>
    public static Array DecodeRaw(OnnxElementType type, ReadOnlySpan<byte> raw, int count)
    {
        int size = ElementTypes.SizeOf(type);
        if (size == 0 || (long)count * size != raw.Length)
            throw new OnnxFormatException($"Cannot decode {raw.Length} bytes as {count} values of {ElementTypes.Name(type)}.");
        if (BitConverter.IsLittleEndian)
        {
            // raw_data is little-endian, so on little-endian hosts (every target we ship) it is the array's
            // memory image: one block copy. bool stays a loop: any non-zero byte must become a valid `true`.
            switch (type)
            {
                case OnnxElementType.Float: return Copy<float>(raw, count);
                case OnnxElementType.Double: return Copy<double>(raw, count);
                case OnnxElementType.Float16: return Copy<Half>(raw, count);
                case OnnxElementType.Int8: return Copy<sbyte>(raw, count);
                case OnnxElementType.UInt8: return raw.ToArray();
                case OnnxElementType.Int16: return Copy<short>(raw, count);
                case OnnxElementType.UInt16: return Copy<ushort>(raw, count);
                case OnnxElementType.Int32: return Copy<int>(raw, count);
                case OnnxElementType.UInt32: return Copy<uint>(raw, count);
                case OnnxElementType.Int64: return Copy<long>(raw, count);
                case OnnxElementType.UInt64: return Copy<ulong>(raw, count);
            }
        }
        switch (type)
        {
            case OnnxElementType.Float: { var a = new float[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]); return a; }
            case OnnxElementType.Double: { var a = new double[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]); return a; }
            case OnnxElementType.Float16: { var a = new Half[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]); return a; }
            case OnnxElementType.Int8: { var a = new sbyte[count]; for (int i = 0; i < count; i++) a[i] = unchecked((sbyte)raw[i]); return a; }
            case OnnxElementType.UInt8: return raw.ToArray();
            case OnnxElementType.Bool: { var a = new bool[count]; for (int i = 0; i < count; i++) a[i] = raw[i] != 0; return a; }
            case OnnxElementType.Int16: { var a = new short[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadInt16LittleEndian(raw[(i * 2)..]); return a; }
            case OnnxElementType.UInt16: { var a = new ushort[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]); return a; }
            case OnnxElementType.Int32: { var a = new int[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(i * 4)..]); return a; }
            case OnnxElementType.UInt32: { var a = new uint[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadUInt32LittleEndian(raw[(i * 4)..]); return a; }
            case OnnxElementType.Int64: { var a = new long[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]); return a; }
            case OnnxElementType.UInt64: { var a = new ulong[count]; for (int i = 0; i < count; i++) a[i] = BinaryPrimitives.ReadUInt64LittleEndian(raw[(i * 8)..]); return a; }
            default: throw new OnnxFormatException($"Element type {ElementTypes.Name(type)} has no raw byte form.");
        }
    }
}
