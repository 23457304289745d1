using System.Buffers.Binary;
using EdgeAgent.Sketches.Kll;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Kll;

public sealed class KllMalformedBytesTests
{
    private static byte[] ValidFull(int n = 1000)
    {
        var s = new KllFloatsSketch(200, new Random(1));
        for (int i = 0; i < n; i++)
        {
            s.Update(i);
        }

        return s.ToByteArray();
    }

    private static void Rejected(byte[] bytes, string expectedFragment)
    {
        var ex = Assert.Throws<KllFormatException>(() => KllFloatsSketch.Deserialize(bytes));
        Assert.StartsWith("Invalid KLL float sketch:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expectedFragment, ex.Message, StringComparison.Ordinal);
    }

    private static byte[] With(byte[] bytes, Action<byte[]> change)
    {
        var copy = (byte[])bytes.Clone();
        change(copy);
        return copy;
    }

    [Fact]
    public void Fewer_than_eight_bytes_are_rejected_as_truncated() => Rejected([5, 1, 15], "truncated");

    [Fact]
    public void A_foreign_family_id_is_rejected() => Rejected(With(ValidFull(), b => b[2] = 7), "family id is 7");

    [Fact]
    public void The_updatable_serial_version_is_rejected_with_advice() => Rejected(With(ValidFull(), b => b[1] = 3), "updatable");

    [Fact]
    public void An_unknown_serial_version_is_rejected() => Rejected(With(ValidFull(), b => b[1] = 9), "unknown serial version 9");

    [Fact]
    public void An_M_other_than_eight_is_rejected() => Rejected(With(ValidFull(), b => b[6] = 4), "M (minimum level width) is 4");

    [Fact]
    public void A_K_below_eight_is_rejected() => Rejected(With(ValidFull(), b => { b[4] = 4; b[5] = 0; }), "K is 4");

    [Fact]
    public void Preamble_ints_that_contradict_the_flags_are_rejected() => Rejected(With(ValidFull(), b => b[0] = 2), "preamble ints is 2");

    [Fact]
    public void Empty_and_single_item_flags_together_are_rejected() =>
        Rejected([2, 1, 15, 5, 200, 0, 8, 0], "both empty and single-item");

    [Fact]
    public void A_min_K_above_K_is_rejected() => Rejected(With(ValidFull(), b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 300)), "min K is 300");

    [Fact]
    public void Zero_levels_are_rejected() => Rejected(With(ValidFull(), b => b[18] = 0), "number of levels is 0");

    [Fact]
    public void A_wrong_N_is_rejected_because_the_item_weights_do_not_add_up() =>
        Rejected(With(ValidFull(), b => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), 999)), "weigh");

    [Fact]
    public void A_levels_array_beyond_the_capacity_is_rejected() =>
        Rejected(With(ValidFull(), b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), 100_000)), "exceeds the buffer capacity");

    [Fact]
    public void A_decreasing_levels_array_is_rejected()
    {
        var bytes = ValidFull();
        Assert.True(bytes[18] >= 2);
        Rejected(With(bytes, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), 0)), "decreases");
    }

    [Fact]
    public void A_NaN_item_is_rejected()
    {
        var bytes = ValidFull();
        int itemsStart = 20 + (4 * bytes[18]) + 8;
        Rejected(With(bytes, b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(itemsStart), float.NaN)), "outside [min");
    }

    [Fact]
    public void An_item_outside_min_and_max_is_rejected()
    {
        var bytes = ValidFull();
        int itemsStart = 20 + (4 * bytes[18]) + 8;
        Rejected(With(bytes, b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(itemsStart), 1e9f)), "outside [min");
    }

    [Fact]
    public void An_unsorted_higher_level_is_rejected()
    {
        var bytes = ValidFull(5000);
        int numLevels = bytes[18];
        int itemsStart = 20 + (4 * numLevels) + 8;
        int level0 = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20));
        int capacity = KllCapacity.TotalCapacity(200, numLevels);
        int level = 1;
        int from = 0;
        for (; level < numLevels; level++)
        {
            from = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20 + (4 * level)));
            int to = level + 1 < numLevels ? BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24 + (4 * level))) : capacity;
            if (to - from >= 2)
            {
                break;
            }
        }

        Assert.True(level < numLevels, "test sketch needs a level above 0 with two items");
        int first = itemsStart + (4 * (from - level0));
        Rejected(With(bytes, b =>
        {
            var tmp = b.AsSpan(first, 4).ToArray();
            b.AsSpan(first + 4, 4).CopyTo(b.AsSpan(first));
            tmp.CopyTo(b.AsSpan(first + 4));
        }), $"level {level} is not sorted");
    }

    [Fact]
    public void Trailing_bytes_are_rejected() => Rejected([.. ValidFull(), 0], "1 trailing bytes");

    [Fact]
    public void Every_truncation_of_a_valid_sketch_is_rejected_with_a_format_error()
    {
        var bytes = ValidFull();
        for (int len = 0; len < bytes.Length; len++)
        {
            Assert.Throws<KllFormatException>(() => KllFloatsSketch.Deserialize(bytes.AsSpan(0, len)));
        }
    }

    [Fact]
    public void Random_corruption_yields_a_valid_sketch_or_a_format_error_but_never_another_exception()
    {
        var bytes = ValidFull(5000);
        var rng = new Random(2024);
        for (int trial = 0; trial < 20_000; trial++)
        {
            var copy = (byte[])bytes.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++)
            {
                copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
            }

            try
            {
                var s = KllFloatsSketch.Deserialize(copy);
                // Whatever was accepted must be internally consistent and itself round-trip byte-exactly
                // (reserved bytes are written as zero, so the first re-serialization may differ there).
                Assert.Equal(s.N, s.GetSortedView().TotalWeight);
                byte[] again = s.ToByteArray();
                Assert.Equal(again, KllFloatsSketch.Deserialize(again).ToByteArray());

                // ...and usable: merging it both ways keeps the weights.
                var target = new KllFloatsSketch(200, new Random(trial));
                target.Update([1f, 2f, 3f]);
                target.Merge(s);
                Assert.Equal(3 + s.N, target.GetSortedView().TotalWeight);
                s.Merge(target);
                Assert.Equal(s.N, s.GetSortedView().TotalWeight);
            }
            catch (KllFormatException)
            {
            }
        }
    }
}
