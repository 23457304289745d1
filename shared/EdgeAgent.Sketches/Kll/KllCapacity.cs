namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// Level capacities of a KLL sketch. The numbers must match Apache DataSketches exactly, because the
/// compact binary format does not store the top of the levels array: a reader recomputes the total
/// capacity from K, M and the number of levels (DataSketches <c>KllHelper.computeTotalItemCapacity</c>).
/// </summary>
/// <remarks>
/// Capacity of level <c>h</c> in a sketch with <c>L</c> levels is <c>max(M, round(K · (2/3)^(L−h−1)))</c>:
/// the top level holds K items and each level below holds two thirds of the level above it.
/// The rounding is done in integer arithmetic (2K·2^d / 3^d, plus one, halved) so every
/// implementation agrees bit for bit.
/// </remarks>
internal static class KllCapacity
{
    /// <summary>Minimum level width M; DataSketches uses 8 and rejects anything else on read.</summary>
    public const int DefaultM = 8;

    /// <summary>Deepest level for which the integer formula is defined (DataSketches limit).</summary>
    public const int MaxDepth = 60;

    private static readonly ulong[] PowersOfThree = BuildPowersOfThree();

    private static ulong[] BuildPowersOfThree()
    {
        var powers = new ulong[31];
        powers[0] = 1;
        for (int i = 1; i < powers.Length; i++)
        {
            powers[i] = powers[i - 1] * 3;
        }

        return powers;
    }

    /// <summary>Capacity of level <paramref name="height"/> (0 = bottom) in a sketch with <paramref name="numLevels"/> levels.</summary>
    public static int LevelCapacity(int k, int numLevels, int height, int m = DefaultM)
    {
        if (height >= numLevels)
        {
            throw new ArgumentOutOfRangeException(nameof(height), height, $"level {height} does not exist in a sketch with {numLevels} levels");
        }

        int depth = numLevels - height - 1;
        return Math.Max(m, CapacityAtDepth(k, depth));
    }

    /// <summary>Sum of all level capacities: the length of the item buffer a sketch with this shape uses.</summary>
    public static int TotalCapacity(int k, int numLevels, int m = DefaultM)
    {
        long total = 0;
        for (int h = 0; h < numLevels; h++)
        {
            total += LevelCapacity(k, numLevels, h, m);
        }

        return checked((int)total);
    }

    /// <summary>Upper bound on the number of levels any sketch of <paramref name="n"/> items can need: 1 + floor(log2 n).</summary>
    public static int UpperBoundOnNumLevels(long n) => n <= 0 ? 1 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)n);

    private static int CapacityAtDepth(int k, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"KLL level depth must be at most {MaxDepth}");
        }

        if (depth <= 30)
        {
            return CapacityAtDepthUpTo30(k, depth);
        }

        // 3^31 overflows the 64-bit numerator trick, so deep levels are done in two steps (as DataSketches does).
        int half = depth / 2;
        return CapacityAtDepthUpTo30(CapacityAtDepthUpTo30(k, half), depth - half);
    }

    private static int CapacityAtDepthUpTo30(int k, int depth)
    {
        ulong twoK = (ulong)k << 1; // pre-multiplied by two so that "+1 then halve" rounds to nearest
        ulong scaled = (twoK << depth) / PowersOfThree[depth];
        return (int)((scaled + 1) >> 1);
    }
}
