using EdgeAgent.Sketches.Kll;
using Xunit;
using Xunit.Abstractions;

namespace EdgeAgent.Sketches.Tests.Kll;

public sealed class KllMergeTests(ITestOutputHelper output)
{
    private const int K = 200;

    private static List<KllFloatsSketch> Shard(float[] data, int shards, Random rng)
    {
        // Random cut points, so shard sizes vary from empty to large; a few shards get exactly one value.
        var cuts = new List<int> { 0, data.Length };
        for (int i = 0; i < shards - 1; i++)
        {
            cuts.Add(rng.Next(data.Length + 1));
        }

        cuts.Sort();
        var sketches = new List<KllFloatsSketch>(shards);
        for (int i = 0; i < shards; i++)
        {
            var s = new KllFloatsSketch(K, new Random(rng.Next()));
            s.Update(data.AsSpan(cuts[i], cuts[i + 1] - cuts[i]));
            sketches.Add(s);
        }

        return sketches;
    }

    [Theory]
    [InlineData(StreamShape.Uniform)]
    [InlineData(StreamShape.LogNormal)]
    [InlineData(StreamShape.Sorted)]
    [InlineData(StreamShape.GrowingBlocksOfRepeats)]
    public void Merging_a_thousand_shards_in_random_orders_keeps_N_min_max_exact_and_error_within_bound(StreamShape shape)
    {
        int n = TestData.LongMode ? 1_000_000 : 200_000;
        int seeds = 8;
        double bound = KllFloatsSketch.NormalizedRankError(K, false);
        int exceeding = 0;
        var errors = new List<double>();
        for (int seed = 0; seed < seeds; seed++)
        {
            var data = TestData.Generate(shape, n, 500 + seed);
            var rng = new Random(seed);
            var shards = Shard(data, 1000, rng);
            var order = shards.OrderBy(_ => rng.Next()).ToList();

            // Fold in random order into an empty sketch.
            var merged = new KllFloatsSketch(K, new Random(seed));
            foreach (var s in order)
            {
                merged.Merge(s);
            }

            // Pairwise tree merge in another random order.
            var level = shards.OrderBy(_ => rng.Next()).Select(s => s.Copy()).ToList();
            while (level.Count > 1)
            {
                var next = new List<KllFloatsSketch>();
                for (int i = 0; i + 1 < level.Count; i += 2)
                {
                    level[i].Merge(level[i + 1]);
                    next.Add(level[i]);
                }

                if (level.Count % 2 == 1)
                {
                    next.Add(level[^1]);
                }

                level = next;
            }

            var tree = level[0];
            Array.Sort(data);
            foreach (var m in new[] { merged, tree })
            {
                Assert.Equal(n, m.N);
                Assert.Equal(n, m.GetSortedView().TotalWeight);
                Assert.Equal(data[0], m.MinItem);
                Assert.Equal(data[^1], m.MaxItem);
                Assert.Equal(K, m.MinK);
                double err = TestData.MaxRankError(m, data);
                errors.Add(err);
                if (err > bound)
                {
                    exceeding++;
                }

                // A merged sketch serializes and reads back byte-exactly too.
                Assert.Equal(m.ToByteArray(), KllFloatsSketch.Deserialize(m.ToByteArray()).ToByteArray());
            }
        }

        output.WriteLine($"{shape}: max errors {string.Join(", ", errors.Select(e => e.ToString("P3")))}; bound {bound:P3}");

        // 16 merged sketches; at ≤ 1 % exceedance each, two or more exceedances have probability ≈ 1 %.
        Assert.True(exceeding <= 1, $"{exceeding} of {errors.Count} merged sketches exceed the bound {bound:P3}");
    }

    [Fact]
    public void Merging_keeps_level_weights_so_N_is_never_lost()
    {
        // A merge that replayed items at weight 1 would report N = retained items instead.
        var a = new KllFloatsSketch(K, new Random(1));
        var b = new KllFloatsSketch(K, new Random(2));
        a.Update(TestData.Generate(StreamShape.Uniform, 300_000, 1));
        b.Update(TestData.Generate(StreamShape.Uniform, 700_000, 2));
        a.Merge(b);
        Assert.Equal(1_000_000, a.N);
        Assert.Equal(1_000_000, a.GetSortedView().TotalWeight);
        Assert.Equal(700_000, b.N);
        Assert.InRange(a.GetQuantile(0.5), 0.48f, 0.52f);
    }

    [Fact]
    public void Merging_a_smaller_K_lowers_min_K_and_widens_the_error_bound()
    {
        var big = new KllFloatsSketch(400, new Random(1));
        var small = new KllFloatsSketch(100, new Random(2));
        big.Update(TestData.Generate(StreamShape.Normal, 100_000, 1));
        small.Update(TestData.Generate(StreamShape.Normal, 100_000, 2));
        big.Merge(small);
        Assert.Equal(400, big.K);
        Assert.Equal(100, big.MinK);
        Assert.Equal(KllFloatsSketch.NormalizedRankError(100, false), big.NormalizedRankError(false));
        var back = KllFloatsSketch.Deserialize(big.ToByteArray());
        Assert.Equal(100, back.MinK);
    }

    [Fact]
    public void A_small_exact_sketch_does_not_lower_min_K()
    {
        var big = new KllFloatsSketch(400, new Random(1));
        var small = new KllFloatsSketch(100, new Random(2));
        big.Update(TestData.Generate(StreamShape.Normal, 10_000, 1));
        small.Update(TestData.Generate(StreamShape.Normal, 50, 2));
        big.Merge(small);
        Assert.Equal(400, big.MinK);
        Assert.Equal(10_050, big.N);
    }

    [Fact]
    public void Merging_empty_sketches_changes_nothing_and_into_an_empty_sketch_copies_min_and_max()
    {
        var empty = new KllFloatsSketch(K);
        var s = new KllFloatsSketch(K, new Random(5));
        s.Update([3f, -1f, 7f]);
        byte[] before = s.ToByteArray();
        s.Merge(empty);
        Assert.Equal(before, s.ToByteArray());

        empty.Merge(s);
        Assert.Equal(3, empty.N);
        Assert.Equal(-1f, empty.MinItem);
        Assert.Equal(7f, empty.MaxItem);
    }

    [Fact]
    public void Merging_a_sketch_into_itself_doubles_its_weight()
    {
        var s = new KllFloatsSketch(K, new Random(5));
        s.Update(TestData.Generate(StreamShape.Uniform, 10_000, 5));
        s.Merge(s);
        Assert.Equal(20_000, s.N);
        Assert.Equal(20_000, s.GetSortedView().TotalWeight);
    }
}
