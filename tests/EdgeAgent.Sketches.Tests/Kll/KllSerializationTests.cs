using EdgeAgent.Sketches.Kll;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Kll;

public sealed class KllSerializationTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    [Fact]
    public void Empty_sketch_serializes_to_the_eight_byte_compact_empty_form()
    {
        var sketch = new KllFloatsSketch(200);
        // preInts 2, serVer 1, family 15, flags EMPTY, K = 200 (0x00C8 LE), M = 8, unused.
        Assert.Equal(Hex("02 01 0F 01 C8 00 08 00"), sketch.ToByteArray());
        Assert.Equal(8, sketch.SerializedSizeBytes);

        var back = KllFloatsSketch.Deserialize(sketch.ToByteArray());
        Assert.True(back.IsEmpty);
        Assert.Equal(200, back.K);
        Assert.True(float.IsNaN(back.MinItem));
        Assert.True(double.IsNaN(back.GetRank(1f)));
    }

    [Fact]
    public void Single_item_sketch_serializes_to_the_twelve_byte_single_item_form()
    {
        var sketch = new KllFloatsSketch(200);
        sketch.Update(3.5f);
        // preInts 2, serVer 2, family 15, flags SINGLE_ITEM, K, M, unused, then the float 3.5 = 0x40600000 LE.
        Assert.Equal(Hex("02 02 0F 04 C8 00 08 00 00 00 60 40"), sketch.ToByteArray());

        var back = KllFloatsSketch.Deserialize(sketch.ToByteArray());
        Assert.Equal(1, back.N);
        Assert.Equal(3.5f, back.MinItem);
        Assert.Equal(3.5f, back.MaxItem);
        Assert.Equal(1.0, back.GetRank(3.5f));
        Assert.Equal(sketch.ToByteArray(), back.ToByteArray());
    }

    [Fact]
    public void Small_sketch_without_compaction_matches_the_DataSketches_layout_byte_for_byte()
    {
        var sketch = new KllFloatsSketch(200);
        foreach (float v in new[] { 1f, 2f, 3f, 4f, 5f })
        {
            sketch.Update(v);
        }

        // Layout per DataSketches KllPreambleUtil (compact full form), little-endian:
        var expected = Hex(
            "05 01 0F 00" +            // preInts 5, serVer 1, family 15, flags 0 (level zero not sorted)
            "C8 00 08 00" +            // K = 200, M = 8, unused
            "05 00 00 00 00 00 00 00" + // N = 5
            "C8 00 01 00" +            // min K = 200, one level, unused
            "C3 00 00 00" +            // levels[0] = 195 = capacity 200 − 5 retained (levels[1] = 200 is implied)
            "00 00 80 3F 00 00 A0 40" + // min 1.0, max 5.0
            // Items from levels[0] up: level 0 fills downwards, so the newest item comes first.
            "00 00 A0 40 00 00 80 40 00 00 40 40 00 00 00 40 00 00 80 3F");
        Assert.Equal(expected, sketch.ToByteArray());

        var back = KllFloatsSketch.Deserialize(expected);
        Assert.Equal(5, back.N);
        Assert.Equal(200, back.MinK);
        Assert.Equal(1, back.NumLevels);
        Assert.Equal(0.6, back.GetRank(3f), 12);
        Assert.Equal(expected, back.ToByteArray());
    }

    [Fact]
    public void Level_capacities_follow_the_two_thirds_rule_with_minimum_width_eight()
    {
        // With 1 level the only level holds K; each level below holds 2/3 of the one above (rounded), at least M = 8.
        Assert.Equal(200, KllCapacity.TotalCapacity(200, 1));
        Assert.Equal(200 + 133, KllCapacity.TotalCapacity(200, 2));
        Assert.Equal(200 + 133 + 89, KllCapacity.TotalCapacity(200, 3));
        Assert.Equal(8, KllCapacity.LevelCapacity(200, 20, 0));
        Assert.Equal(8, KllCapacity.LevelCapacity(8, 3, 0));

        var sketch = new KllFloatsSketch(200, new Random(1));
        for (int i = 0; i < 201; i++)
        {
            sketch.Update(i);
        }

        Assert.Equal(2, sketch.NumLevels);
        Assert.True(sketch.IsEstimationMode);
        Assert.Equal(201, sketch.N);
    }

    public static TheoryData<int, int> Sizes() => new()
    {
        { 200, 2 }, { 200, 199 }, { 200, 200 }, { 200, 201 }, { 200, 10_000 }, { 200, 1_000_000 },
        { 8, 100_000 }, { 100, 1_000_000 }, { 400, 1_000_000 }, { 65535, 70_000 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Serialization_round_trip_is_byte_exact_and_restores_the_full_state(int k, int n)
    {
        var rng = new Random(n + k);
        var sketch = new KllFloatsSketch(k, new Random(7));
        for (int i = 0; i < n; i++)
        {
            sketch.Update((float)TestData.Gaussian(rng));
        }

        byte[] bytes = sketch.ToByteArray();
        Assert.Equal(sketch.SerializedSizeBytes, bytes.Length);
        var back = KllFloatsSketch.Deserialize(bytes, new Random(99));
        Assert.Equal(bytes, back.ToByteArray());
        Assert.Equal(sketch.N, back.N);
        Assert.Equal(sketch.MinItem, back.MinItem);
        Assert.Equal(sketch.MaxItem, back.MaxItem);
        Assert.Equal(sketch.NumLevels, back.NumLevels);

        // The restored sketch evolves exactly like the original given the same randomness.
        var original = sketch.Copy(new Random(99));
        var more = TestData.Generate(StreamShape.Uniform, 5_000, 3);
        original.Update(more);
        back.Update(more);
        Assert.Equal(original.ToByteArray(), back.ToByteArray());
    }

    [Fact]
    public void Serialized_size_at_one_million_values_is_about_what_DataSketches_publishes()
    {
        // REFERENCE.md: about 1.4 KB (k=100), 2.5 KB (k=200), 4.8 KB (k=400) at N = 10^6.
        var data = TestData.Generate(StreamShape.Uniform, 1_000_000, 5);
        foreach (var (k, expected) in new[] { (100, 1400), (200, 2500), (400, 4800) })
        {
            var s = new KllFloatsSketch(k, new Random(k));
            s.Update(data);
            Assert.InRange(s.SerializedSizeBytes, expected * 0.8, expected * 1.2);
        }
    }

    [Fact]
    public void Queries_do_not_change_the_serialized_bytes()
    {
        var sketch = new KllFloatsSketch(200, new Random(3));
        sketch.Update(TestData.Generate(StreamShape.Normal, 50_000, 3));
        byte[] before = sketch.ToByteArray();
        _ = sketch.GetQuantile(0.5);
        _ = sketch.GetRank(0.1f);
        Assert.Equal(before, sketch.ToByteArray());
    }

    [Fact]
    public void Sketches_with_the_same_seed_and_input_are_identical()
    {
        var data = TestData.Generate(StreamShape.LogNormal, 100_000, 11);
        var a = new KllFloatsSketch(200, new Random(42));
        var b = new KllFloatsSketch(200, new Random(42));
        var c = new KllFloatsSketch(200, new Random(43));
        a.Update(data);
        b.Update(data);
        c.Update(data);
        Assert.Equal(a.ToByteArray(), b.ToByteArray());
        Assert.NotEqual(a.ToByteArray(), c.ToByteArray());
    }
}
