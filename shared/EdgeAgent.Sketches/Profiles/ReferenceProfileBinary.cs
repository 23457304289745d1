using System.Buffers.Binary;
using System.Text;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Profiles;

/// <summary>
/// Compact binary form of a <see cref="ReferenceProfile"/>, little-endian:
/// <code>
/// "EAPR" magic, u8 version (1), 3 reserved zero bytes, u32 feature count, then per feature:
///   u16 name length + UTF-8 name, i64 count, f64 mean, f64 M2, i64 NaN, i64 +inf, i64 −inf,
///   u32 sketch length + DataSketches compact KLL float sketch bytes
/// </code>
/// Nothing may follow the last feature.
/// </summary>
public static class ReferenceProfileBinary
{
    private static ReadOnlySpan<byte> Magic => "EAPR"u8;

    /// <summary>The binary version this code writes and reads.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>Serializes the profile.</summary>
    public static byte[] Serialize(ReferenceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        using var ms = new MemoryStream();
        Span<byte> scratch = stackalloc byte[8];
        ms.Write(Magic);
        ms.WriteByte(CurrentVersion);
        ms.Write([0, 0, 0]);
        BinaryPrimitives.WriteUInt32LittleEndian(scratch, (uint)profile.Features.Count);
        ms.Write(scratch[..4]);
        foreach (var f in profile.Features)
        {
            byte[] name = Encoding.UTF8.GetBytes(f.Name);
            if (name.Length > ushort.MaxValue)
            {
                throw new ArgumentException($"feature name of {name.Length} bytes is too long for the binary profile (max {ushort.MaxValue})", nameof(profile));
            }

            BinaryPrimitives.WriteUInt16LittleEndian(scratch, (ushort)name.Length);
            ms.Write(scratch[..2]);
            ms.Write(name);
            WriteInt64(ms, scratch, f.Statistics.Count);
            WriteDouble(ms, scratch, f.Statistics.Mean);
            WriteDouble(ms, scratch, f.Statistics.M2);
            WriteInt64(ms, scratch, f.Statistics.NaNCount);
            WriteInt64(ms, scratch, f.Statistics.PositiveInfinityCount);
            WriteInt64(ms, scratch, f.Statistics.NegativeInfinityCount);
            byte[] sketch = f.Sketch.ToByteArray();
            BinaryPrimitives.WriteUInt32LittleEndian(scratch, (uint)sketch.Length);
            ms.Write(scratch[..4]);
            ms.Write(sketch);
        }

        return ms.ToArray();
    }

    /// <summary>Parses a binary profile.</summary>
    /// <exception cref="ReferenceProfileFormatException">Wrong magic or version, truncation, trailing bytes, or an invalid feature.</exception>
    public static ReferenceProfile Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual(Magic))
        {
            throw new ReferenceProfileFormatException("not a binary reference profile: it must start with the 4 bytes \"EAPR\" and be at least 12 bytes long");
        }

        if (bytes[4] != CurrentVersion)
        {
            throw new ReferenceProfileFormatException($"binary reference profile version {bytes[4]} is not supported (this agent reads version {CurrentVersion})");
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        int pos = 12;
        var features = new List<FeatureProfile>();
        for (uint i = 0; i < count; i++)
        {
            string label = $"#{i}";
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(Take(bytes, ref pos, 2, label, "name length"));
            string name;
            try
            {
                name = new UTF8Encoding(false, true).GetString(Take(bytes, ref pos, nameLength, label, "name"));
            }
            catch (DecoderFallbackException ex)
            {
                throw new ReferenceProfileFormatException($"feature {label}: name is not valid UTF-8", ex);
            }

            label = $"'{name}'";
            long n = BinaryPrimitives.ReadInt64LittleEndian(Take(bytes, ref pos, 8, label, "count"));
            double mean = BinaryPrimitives.ReadDoubleLittleEndian(Take(bytes, ref pos, 8, label, "mean"));
            double m2 = BinaryPrimitives.ReadDoubleLittleEndian(Take(bytes, ref pos, 8, label, "M2"));
            long nan = BinaryPrimitives.ReadInt64LittleEndian(Take(bytes, ref pos, 8, label, "NaN count"));
            long pinf = BinaryPrimitives.ReadInt64LittleEndian(Take(bytes, ref pos, 8, label, "+inf count"));
            long ninf = BinaryPrimitives.ReadInt64LittleEndian(Take(bytes, ref pos, 8, label, "-inf count"));
            uint sketchLength = BinaryPrimitives.ReadUInt32LittleEndian(Take(bytes, ref pos, 4, label, "sketch length"));
            if (sketchLength > (uint)(bytes.Length - pos))
            {
                throw new ReferenceProfileFormatException($"feature {label}: sketch length {sketchLength} runs past the end of the profile ({bytes.Length - pos} bytes left)");
            }

            KllFloatsSketch sketch;
            try
            {
                sketch = KllFloatsSketch.Deserialize(Take(bytes, ref pos, (int)sketchLength, label, "sketch"));
            }
            catch (KllFormatException ex)
            {
                throw new ReferenceProfileFormatException($"feature {label}: {ex.Message}", ex);
            }

            features.Add(new FeatureProfile(name, new FeatureStatistics(n, mean, m2, nan, pinf, ninf), sketch));
        }

        if (pos != bytes.Length)
        {
            throw new ReferenceProfileFormatException($"{bytes.Length - pos} trailing bytes after the last of {count} features");
        }

        return new ReferenceProfile(features);
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> bytes, ref int pos, int length, string label, string field)
    {
        if (length > bytes.Length - pos)
        {
            throw new ReferenceProfileFormatException($"binary reference profile is truncated in feature {label} ({field} needs {length} bytes, {bytes.Length - pos} left)");
        }

        var slice = bytes.Slice(pos, length);
        pos += length;
        return slice;
    }

    private static void WriteInt64(Stream s, Span<byte> scratch, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(scratch, value);
        s.Write(scratch[..8]);
    }

    private static void WriteDouble(Stream s, Span<byte> scratch, double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(scratch, value);
        s.Write(scratch[..8]);
    }
}
