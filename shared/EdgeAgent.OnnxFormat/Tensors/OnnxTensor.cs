namespace EdgeAgent.OnnxFormat;

/// <summary>
/// A named dense tensor in row-major (C) order: element type, dimensions and a typed array whose
/// CLR type is fixed by the element type (float→float[], double→double[], int8→sbyte[],
/// uint8→byte[], int16→short[], uint16→ushort[], int32→int[], uint32→uint[], int64→long[],
/// uint64→ulong[], bool→bool[], float16→Half[], string→string[]).
/// </summary>
/// <remarks>
/// Immutable as far as this type is concerned, but the data array is shared, not copied: callers that
/// keep a tensor must not mutate the array they passed in. Safe to read from several threads.
/// </remarks>
public sealed class OnnxTensor
{
    private OnnxTensor(string name, OnnxElementType elementType, long[] dims, Array data)
    {
        foreach (long d in dims)
            if (d < 0)
                throw new ArgumentException($"Tensor '{name}' has negative dimension {d} in [{string.Join(',', dims)}].", nameof(dims));
        long count = ElementCountOf(dims)
            ?? throw new ArgumentException($"Tensor '{name}' dimensions [{string.Join(',', dims)}] overflow the element count.", nameof(dims));
        if (count != data.LongLength)
            throw new ArgumentException(
                $"Tensor '{name}' has shape [{string.Join(',', dims)}] ({count} elements) but {data.LongLength} values were given.", nameof(data));
        Name = name;
        ElementType = elementType;
        Dims = dims;
        Data = data;
    }

    public string Name { get; }

    public OnnxElementType ElementType { get; }

    /// <summary>Dimensions; empty for a scalar. Do not mutate.</summary>
    public long[] Dims { get; }

    /// <summary>The values; the array type matches <see cref="ElementType"/> (see the class summary).</summary>
    public Array Data { get; }

    public long ElementCount => Data.LongLength;

    public static OnnxTensor Create(string name, long[] dims, float[] data) => new(name, OnnxElementType.Float, dims, data);
    public static OnnxTensor Create(string name, long[] dims, double[] data) => new(name, OnnxElementType.Double, dims, data);
    public static OnnxTensor Create(string name, long[] dims, sbyte[] data) => new(name, OnnxElementType.Int8, dims, data);
    public static OnnxTensor Create(string name, long[] dims, byte[] data) => new(name, OnnxElementType.UInt8, dims, data);
    public static OnnxTensor Create(string name, long[] dims, short[] data) => new(name, OnnxElementType.Int16, dims, data);
    public static OnnxTensor Create(string name, long[] dims, ushort[] data) => new(name, OnnxElementType.UInt16, dims, data);
    public static OnnxTensor Create(string name, long[] dims, int[] data) => new(name, OnnxElementType.Int32, dims, data);
    public static OnnxTensor Create(string name, long[] dims, uint[] data) => new(name, OnnxElementType.UInt32, dims, data);
    public static OnnxTensor Create(string name, long[] dims, long[] data) => new(name, OnnxElementType.Int64, dims, data);
    public static OnnxTensor Create(string name, long[] dims, ulong[] data) => new(name, OnnxElementType.UInt64, dims, data);
    public static OnnxTensor Create(string name, long[] dims, bool[] data) => new(name, OnnxElementType.Bool, dims, data);
    public static OnnxTensor Create(string name, long[] dims, Half[] data) => new(name, OnnxElementType.Float16, dims, data);
    public static OnnxTensor Create(string name, long[] dims, string[] data) => new(name, OnnxElementType.String, dims, data);

    /// <summary>Creates a tensor from an array whose CLR type must match <paramref name="type"/>.</summary>
    public static OnnxTensor Create(string name, OnnxElementType type, long[] dims, Array data)
    {
        Type expected = ClrArrayType(type)
            ?? throw new OnnxFormatException($"Tensor '{name}': element type {ElementTypes.Name(type)} is not supported.");
        if (data.GetType() != expected)
            throw new ArgumentException($"Tensor '{name}' of type {ElementTypes.Name(type)} needs a {expected.Name} but got {data.GetType().Name}.", nameof(data));
        return new OnnxTensor(name, type, dims, data);
    }

    /// <summary>A tensor of zeros (empty strings / false) of the given type and shape.</summary>
    public static OnnxTensor Zeros(string name, OnnxElementType type, long[] dims)
    {
        long n = ElementCountOf(dims) ?? throw new ArgumentException("Dimensions overflow the element count.", nameof(dims));
        if (n > Array.MaxLength) throw new ArgumentException($"Tensor '{name}' would have {n} elements, more than an array can hold.", nameof(dims));
        int count = (int)n;
        Array data = type switch
        {
            OnnxElementType.Float => new float[count],
            OnnxElementType.Double => new double[count],
            OnnxElementType.Int8 => new sbyte[count],
            OnnxElementType.UInt8 => new byte[count],
            OnnxElementType.Int16 => new short[count],
            OnnxElementType.UInt16 => new ushort[count],
            OnnxElementType.Int32 => new int[count],
            OnnxElementType.UInt32 => new uint[count],
            OnnxElementType.Int64 => new long[count],
            OnnxElementType.UInt64 => new ulong[count],
            OnnxElementType.Bool => new bool[count],
            OnnxElementType.Float16 => new Half[count],
            OnnxElementType.String => Enumerable.Repeat(string.Empty, count).ToArray(),
            _ => throw new OnnxFormatException($"Tensor '{name}': element type {ElementTypes.Name(type)} is not supported."),
        };
        return new OnnxTensor(name, type, dims, data);
    }

    /// <summary>Returns the data as <typeparamref name="T"/>[]; throws with a clear message when the element type differs.</summary>
    public T[] GetData<T>()
    {
        // Exact type check: the CLR would let `Data is T[]` accept a byte[] as sbyte[] (and uint/int etc.).
        if (Data.GetType() == typeof(T[])) return (T[])Data;
        throw new InvalidOperationException(
            $"Tensor '{Name}' holds {ElementTypes.Name(ElementType)} ({Data.GetType().Name}), not {typeof(T).Name}[].");
    }

    /// <summary>Same tensor with another name (data shared).</summary>
    public OnnxTensor WithName(string name) => new(name, ElementType, Dims, Data);

    /// <summary>Same data with other dimensions of equal element count (data shared).</summary>
    public OnnxTensor Reshape(long[] dims) => new(Name, ElementType, dims, Data);

    /// <summary>
    /// True when both tensors have the same type, shape and values. Floating-point values compare by bit
    /// pattern, so NaN equals the same NaN and +0 differs from -0, which is what a round-trip test needs.
    /// Names are not compared.
    /// </summary>
    public bool ContentEquals(OnnxTensor other)
    {
        if (ElementType != other.ElementType || !Dims.AsSpan().SequenceEqual(other.Dims)) return false;
        if (Data.GetType() != other.Data.GetType()) return false;
        return (Data, other.Data) switch
        {
            (float[] a, float[] b) => a.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.Select(BitConverter.SingleToInt32Bits)),
            (double[] a, double[] b) => a.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(b.Select(BitConverter.DoubleToInt64Bits)),
            (Half[] a, Half[] b) => a.Select(BitConverter.HalfToInt16Bits).SequenceEqual(b.Select(BitConverter.HalfToInt16Bits)),
            (sbyte[] a, sbyte[] b) => a.AsSpan().SequenceEqual(b),
            (byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b),
            (short[] a, short[] b) => a.AsSpan().SequenceEqual(b),
            (ushort[] a, ushort[] b) => a.AsSpan().SequenceEqual(b),
            (int[] a, int[] b) => a.AsSpan().SequenceEqual(b),
            (uint[] a, uint[] b) => a.AsSpan().SequenceEqual(b),
            (long[] a, long[] b) => a.AsSpan().SequenceEqual(b),
            (ulong[] a, ulong[] b) => a.AsSpan().SequenceEqual(b),
            (bool[] a, bool[] b) => a.AsSpan().SequenceEqual(b),
            (string[] a, string[] b) => a.AsSpan().SequenceEqual(b),
            _ => false,
        };
    }

    /// <summary>Product of the dimensions, or null if it overflows <see cref="long"/> (or a dimension is negative).</summary>
    public static long? ElementCountOf(ReadOnlySpan<long> dims)
    {
        long n = 1;
        foreach (long d in dims)
        {
            if (d < 0) return null;
            try { n = checked(n * d); }
            catch (OverflowException) { return null; }
        }
        return n;
    }

    /// <summary>CLR array type used for <paramref name="type"/>, or null when unsupported.</summary>
    public static Type? ClrArrayType(OnnxElementType type) => type switch
    {
        OnnxElementType.Float => typeof(float[]),
        OnnxElementType.Double => typeof(double[]),
        OnnxElementType.Int8 => typeof(sbyte[]),
        OnnxElementType.UInt8 => typeof(byte[]),
        OnnxElementType.Int16 => typeof(short[]),
        OnnxElementType.UInt16 => typeof(ushort[]),
        OnnxElementType.Int32 => typeof(int[]),
        OnnxElementType.UInt32 => typeof(uint[]),
        OnnxElementType.Int64 => typeof(long[]),
        OnnxElementType.UInt64 => typeof(ulong[]),
        OnnxElementType.Bool => typeof(bool[]),
        OnnxElementType.Float16 => typeof(Half[]),
        OnnxElementType.String => typeof(string[]),
        _ => null,
    };

    public override string ToString() => $"{Name}: {ElementTypes.Name(ElementType)}[{string.Join(',', Dims)}]";
}
