using System.Text.Json;

namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Writes a tensor's values as nested JSON arrays (the inverse of <see cref="JsonTensorReader"/>'s
/// nested-array form), for CLI output such as <c>edgeagent predict --json</c>. Non-finite floats are
/// written as the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>, which the reader accepts.
/// Thread-safe (stateless).
/// </summary>
public static class JsonTensorWriter
{
    /// <summary>Writes the values of <paramref name="tensor"/> as the next JSON value of <paramref name="writer"/>.</summary>
    public static void WriteValues(Utf8JsonWriter writer, OnnxTensor tensor)
    {
        int flat = 0;
        Write(writer, tensor, 0, ref flat);
    }

    /// <summary>The tensor's values as a compact JSON string.</summary>
    public static string ToJson(OnnxTensor tensor)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
            WriteValues(writer, tensor);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(Utf8JsonWriter w, OnnxTensor t, int depth, ref int flat)
    {
        if (depth == t.Dims.Length)
        {
            WriteScalar(w, t.Data, flat++);
            return;
        }
        w.WriteStartArray();
        for (long i = 0; i < t.Dims[depth]; i++)
            Write(w, t, depth + 1, ref flat);
        w.WriteEndArray();
    }

    private static void WriteScalar(Utf8JsonWriter w, Array data, int i)
    {
        switch (data)
        {
            case float[] a: WriteFloating(w, a[i], true); break;
            case double[] a: WriteFloating(w, a[i], false); break;
            case Half[] a: WriteFloating(w, (double)a[i], false); break;
            case string[] a: w.WriteStringValue(a[i]); break;
            case bool[] a: w.WriteBooleanValue(a[i]); break;
            default:
                // Integer arrays: sbyte/byte, short/ushort, int/uint, long/ulong. The CLR lets signed and
                // unsigned arrays of one width pass for each other, so go by the exact runtime type.
                var type = data.GetType();
                if (type == typeof(sbyte[])) w.WriteNumberValue(((sbyte[])data)[i]);
                else if (type == typeof(byte[])) w.WriteNumberValue(((byte[])data)[i]);
                else if (type == typeof(short[])) w.WriteNumberValue(((short[])data)[i]);
                else if (type == typeof(ushort[])) w.WriteNumberValue(((ushort[])data)[i]);
                else if (type == typeof(int[])) w.WriteNumberValue(((int[])data)[i]);
                else if (type == typeof(uint[])) w.WriteNumberValue(((uint[])data)[i]);
                else if (type == typeof(long[])) w.WriteNumberValue(((long[])data)[i]);
                else if (type == typeof(ulong[])) w.WriteNumberValue(((ulong[])data)[i]);
                break;
        }
    }

    private static void WriteFloating(Utf8JsonWriter w, double v, bool single)
    {
        if (double.IsNaN(v)) w.WriteStringValue("NaN");
        else if (double.IsPositiveInfinity(v)) w.WriteStringValue("Infinity");
        else if (double.IsNegativeInfinity(v)) w.WriteStringValue("-Infinity");
        // float → shortest round-trip text of the float itself, not of its widened double.
        else if (single) w.WriteNumberValue((float)v);
        else w.WriteNumberValue(v);
    }
}
