using System.Buffers.Binary;

namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// The Apache DataSketches compact KLL float serialization (DataSketches <c>KllPreambleUtil</c>), little-endian:
/// <code>
/// byte 0     preamble ints: 2 (empty or single item) or 5 (full)
/// byte 1     serial version: 1 (empty or full), 2 (single item); 3 (updatable) is not accepted here
/// byte 2     family id: 15 (KLL)
/// byte 3     flags: 1 empty, 2 level zero sorted, 4 single item
/// bytes 4-5  K (u16)
/// byte 6     M (= 8)
/// byte 7     unused (0)
/// empty:       nothing follows (8 bytes)
/// single item: byte 8 the item (f32) (12 bytes)
/// full:        bytes 8-15 N (u64), 16-17 min K (u16), 18 number of levels L, 19 unused,
///              from 20: levels[0..L-1] (u32 each; levels[L] is implied = total capacity),
///              min item (f32), max item (f32), retained items (f32 × (capacity − levels[0])),
///              level 0 first, each level in its buffer order.
/// </code>
/// The levels array holds absolute offsets into a buffer of total capacity (so levels[0] is the free space),
/// exactly as DataSketches keeps it in memory; that is what makes images interchangeable.
/// </summary>
public static class KllFloatsBinaryFormat
{
    /// <summary>Family id of KLL sketches in DataSketches.</summary>
    public const byte FamilyId = 15;

    internal const byte PreambleIntsShort = 2;
    internal const byte PreambleIntsFull = 5;
    internal const byte SerialVersionEmptyOrFull = 1;
    internal const byte SerialVersionSingle = 2;
    internal const byte SerialVersionUpdatable = 3;
    internal const byte FlagEmpty = 1;
    internal const byte FlagLevelZeroSorted = 2;
    internal const byte FlagSingleItem = 4;
    internal const int PreambleBytesShort = 8;
    internal const int PreambleBytesFull = 20;

    internal static int SizeOf(KllFloatsSketch sketch)
    {
        if (sketch.IsEmpty)
        {
            return PreambleBytesShort;
        }

        if (sketch.N == 1)
        {
            return PreambleBytesShort + sizeof(float);
        }

        return PreambleBytesFull + (sketch.NumLevels * sizeof(uint)) + ((sketch.NumRetained + 2) * sizeof(float));
    }

    internal static int Write(KllFloatsSketch sketch, Span<byte> destination)
    {
        int size = SizeOf(sketch);
        if (destination.Length < size)
        {
            throw new ArgumentException($"destination holds {destination.Length} bytes; the sketch needs {size}", nameof(destination));
        }

        bool empty = sketch.IsEmpty;
        bool single = sketch.N == 1;
        var d = destination[..size];
        d[0] = empty || single ? PreambleIntsShort : PreambleIntsFull;
        d[1] = single ? SerialVersionSingle : SerialVersionEmptyOrFull;
        d[2] = FamilyId;
        d[3] = (byte)((empty ? FlagEmpty : 0) | (sketch.IsLevelZeroSorted ? FlagLevelZeroSorted : 0) | (single ? FlagSingleItem : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], (ushort)sketch.K);
        d[6] = KllCapacity.DefaultM;
        d[7] = 0;
        if (empty)
        {
            return size;
        }

        float[] items = sketch.RawItems;
        int[] levels = sketch.RawLevels;
        int numLevels = sketch.NumLevels;
        if (single)
        {
            BinaryPrimitives.WriteSingleLittleEndian(d[8..], items[levels[0]]);
            return size;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], (ulong)sketch.N);
        BinaryPrimitives.WriteUInt16LittleEndian(d[16..], (ushort)sketch.MinK);
        d[18] = (byte)numLevels;
        d[19] = 0;
        int offset = PreambleBytesFull;
        for (int i = 0; i < numLevels; i++, offset += 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[offset..], (uint)levels[i]);
        }

        BinaryPrimitives.WriteSingleLittleEndian(d[offset..], sketch.MinItem);
        BinaryPrimitives.WriteSingleLittleEndian(d[(offset + 4)..], sketch.MaxItem);
        offset += 8;
        for (int i = levels[0]; i < levels[numLevels]; i++, offset += 4)
        {
            BinaryPrimitives.WriteSingleLittleEndian(d[offset..], items[i]);
        }

        return size;
    }

    internal static KllFloatsSketch Read(ReadOnlySpan<byte> b, Random random)
    {
        if (b.Length < PreambleBytesShort)
        {
            throw Bad($"truncated: a KLL sketch needs at least {PreambleBytesShort} bytes of preamble, got {b.Length}");
        }

        byte preInts = b[0];
        byte serVer = b[1];
        byte family = b[2];
        byte flags = b[3];
        int k = BinaryPrimitives.ReadUInt16LittleEndian(b[4..]);
        int m = b[6];

        if (family != FamilyId)
        {
            throw Bad($"family id is {family}, KLL sketches have {FamilyId}: these bytes are not a DataSketches KLL sketch");
        }

        if (serVer == SerialVersionUpdatable)
        {
            throw Bad("serial version 3 is the DataSketches updatable (in-memory) layout; only the compact layout (versions 1 and 2) is accepted, serialize the sketch compactly");
        }

        if (serVer != SerialVersionEmptyOrFull && serVer != SerialVersionSingle)
        {
            throw Bad($"unknown serial version {serVer} (expected {SerialVersionEmptyOrFull} or {SerialVersionSingle})");
        }

        if (m != KllCapacity.DefaultM)
        {
            throw Bad($"M (minimum level width) is {m}, the format requires {KllCapacity.DefaultM}");
        }

        if (k < KllFloatsSketch.MinimumK)
        {
            throw Bad($"K is {k}, must be at least {KllFloatsSketch.MinimumK}");
        }

        bool empty = (flags & FlagEmpty) != 0;
        bool single = (flags & FlagSingleItem) != 0;
        bool levelZeroSorted = (flags & FlagLevelZeroSorted) != 0;
        if (empty && single)
        {
            throw Bad($"flags 0x{flags:X2} claim both empty and single-item");
        }

        byte expectedPreInts = empty || single ? PreambleIntsShort : PreambleIntsFull;
        if (preInts != expectedPreInts)
        {
            throw Bad($"preamble ints is {preInts}, but a{(empty ? "n empty" : single ? " single-item" : " full")} sketch has {expectedPreInts}");
        }

        if (single != (serVer == SerialVersionSingle))
        {
            throw Bad($"serial version {serVer} does not match flags 0x{flags:X2} (version 2 is exactly the single-item form)");
        }

        if (empty)
        {
            ExpectLength(b, PreambleBytesShort, "an empty sketch");
            return KllFloatsSketch.FromParts(k, k, 0, 1, [k, k], new float[k], float.NaN, float.NaN, levelZeroSorted, random);
        }

        if (single)
        {
            ExpectLength(b, PreambleBytesShort + sizeof(float), "a single-item sketch");
            float item = BinaryPrimitives.ReadSingleLittleEndian(b[8..]);
            if (float.IsNaN(item))
            {
                throw Bad("the single item is NaN; sketches never hold NaN");
            }

            var items = new float[k];
            items[k - 1] = item;
            return KllFloatsSketch.FromParts(k, k, 1, 1, [k - 1, k], items, item, item, levelZeroSorted, random);
        }

        if (b.Length < PreambleBytesFull)
        {
            throw Bad($"truncated: a full KLL sketch needs {PreambleBytesFull} bytes of preamble, got {b.Length}");
        }

        ulong rawN = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        int minK = BinaryPrimitives.ReadUInt16LittleEndian(b[16..]);
        int numLevels = b[18];
        if (rawN == 0 || rawN > long.MaxValue)
        {
            throw Bad($"N is {rawN} in a sketch not flagged empty");
        }

        long n = (long)rawN;
        if (minK < KllFloatsSketch.MinimumK || minK > k)
        {
            throw Bad($"min K is {minK}, must be between {KllFloatsSketch.MinimumK} and K = {k}");
        }

        if (numLevels < 1 || numLevels > KllCapacity.MaxDepth + 1)
        {
            throw Bad($"number of levels is {numLevels}, must be between 1 and {KllCapacity.MaxDepth + 1}");
        }

        int capacity = KllCapacity.TotalCapacity(k, numLevels);
        int levelsEnd = PreambleBytesFull + (numLevels * sizeof(uint));
        if (b.Length < levelsEnd + 8)
        {
            throw Bad($"truncated: {numLevels} levels need {levelsEnd + 8} bytes before the items, got {b.Length}");
        }

        var levels = new int[numLevels + 1];
        for (int i = 0; i < numLevels; i++)
        {
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(b[(PreambleBytesFull + (4 * i))..]);
            if (v > (uint)capacity)
            {
                throw Bad($"levels[{i}] = {v} exceeds the buffer capacity {capacity} for K = {k} with {numLevels} levels");
            }

            levels[i] = (int)v;
            if (i > 0 && levels[i] < levels[i - 1])
            {
                throw Bad($"levels array decreases at index {i} ({levels[i - 1]} then {levels[i]})");
            }
        }

        levels[numLevels] = capacity;
        int retained = capacity - levels[0];
        if (retained < 1)
        {
            throw Bad("a full sketch retains no items");
        }

        ExpectLength(b, levelsEnd + 8 + (retained * sizeof(float)), $"a sketch with K = {k}, {numLevels} levels and {retained} retained items");

        float min = BinaryPrimitives.ReadSingleLittleEndian(b[levelsEnd..]);
        float max = BinaryPrimitives.ReadSingleLittleEndian(b[(levelsEnd + 4)..]);
        if (float.IsNaN(min) || float.IsNaN(max) || min > max)
        {
            throw Bad($"min item {min} and max item {max} are not an ordered pair of numbers");
        }

        var buffer = new float[capacity];
        int offset = levelsEnd + 8;
        for (int i = levels[0]; i < capacity; i++, offset += 4)
        {
            float item = BinaryPrimitives.ReadSingleLittleEndian(b[offset..]);
            if (float.IsNaN(item) || item < min || item > max)
            {
                throw Bad($"retained item {i - levels[0]} is {item}, outside [min {min}, max {max}]");
            }

            buffer[i] = item;
        }

        // Levels above 0 must be sorted: merges rely on it and would silently produce garbage otherwise.
        UInt128 totalWeight = 0;
        for (int level = 0; level < numLevels; level++)
        {
            int from = levels[level];
            int to = levels[level + 1];
            if (level > 0 || levelZeroSorted)
            {
                for (int i = from + 1; i < to; i++)
                {
                    if (buffer[i] < buffer[i - 1])
                    {
                        throw Bad($"level {level} is not sorted (items {i - 1 - from} and {i - from})");
                    }
                }
            }

            totalWeight += (UInt128)(to - from) << level;
        }

        if (totalWeight != (UInt128)n)
        {
            throw Bad($"N is {n} but the retained items weigh {totalWeight} in total (item weight 2^level)");
        }

        if (numLevels == 1 && n != retained)
        {
            throw Bad($"N is {n} but the sketch has one level with {retained} items");
        }

        return KllFloatsSketch.FromParts(k, minK, n, numLevels, levels, buffer, min, max, levelZeroSorted, random);
    }

    private static void ExpectLength(ReadOnlySpan<byte> b, int expected, string what)
    {
        if (b.Length < expected)
        {
            throw Bad($"truncated: {what} takes {expected} bytes, got {b.Length}");
        }

        if (b.Length > expected)
        {
            throw Bad($"{b.Length - expected} trailing bytes after {what} ({expected} bytes)");
        }
    }

    private static KllFormatException Bad(string detail) => new($"Invalid KLL float sketch: {detail}.");
}
