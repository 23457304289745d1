using EdgeAgent.Sketches.Drift;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Drift;

public sealed class FeatureAccumulatorTests
{
    private static (double Mean, double M2) TwoPass(IEnumerable<float> values)
    {
        var v = values.Where(float.IsFinite).Select(x => (double)x).ToArray();
        double mean = v.Average();
        return (mean, v.Sum(x => (x - mean) * (x - mean)));
    }

    [Fact]
    public void NaN_and_infinities_are_counted_separately_and_never_enter_the_sketch_or_the_moments()
    {
        var acc = new FeatureAccumulator();
        acc.Add([1f, float.NaN, 2f, float.PositiveInfinity, 3f, float.NegativeInfinity, float.NaN]);
        Assert.Equal(3, acc.Sketch.N);
        Assert.Equal(3, acc.Moments.Count);
        Assert.Equal(2.0, acc.Moments.Mean, 12);
        Assert.Equal(2, acc.NaNCount);
        Assert.Equal(1, acc.PositiveInfinityCount);
        Assert.Equal(1, acc.NegativeInfinityCount);
        Assert.Equal(7, acc.TotalCount);
        Assert.Equal(3f, acc.Sketch.MaxItem);
    }

    [Fact]
    public void Welford_moments_match_a_two_pass_computation()
    {
        var data = TestData.Generate(StreamShape.LogNormal, 200_000, 4);
        var acc = new FeatureAccumulator();
        acc.Add(data);
        var (mean, m2) = TwoPass(data);
        Assert.Equal(mean, acc.Moments.Mean, 1e-12 * Math.Abs(mean));
        Assert.Equal(m2, acc.Moments.M2, 1e-9 * m2);
    }

    [Fact]
    public void Merging_shards_with_the_Chan_formula_equals_one_pass_over_all_values()
    {
        var data = TestData.Generate(StreamShape.Bimodal, 100_000, 8);
        var rng = new Random(8);
        var whole = new FeatureAccumulator(random: new Random(1));
        whole.Add(data);
        var merged = new FeatureAccumulator(random: new Random(2));
        int pos = 0;
        while (pos < data.Length)
        {
            int len = Math.Min(data.Length - pos, rng.Next(0, 3000));
            var shard = new FeatureAccumulator(random: new Random(pos));
            shard.Add(data.AsSpan(pos, len));
            shard.Add([float.NaN]);
            merged.Merge(shard);
            pos += len;
        }

        Assert.Equal(whole.Moments.Count, merged.Moments.Count);
        Assert.Equal(whole.Moments.Mean, merged.Moments.Mean, 1e-12 * Math.Max(1, Math.Abs(whole.Moments.Mean)));
        Assert.Equal(whole.Moments.M2, merged.Moments.M2, 1e-10 * whole.Moments.M2);
        Assert.Equal(whole.Sketch.N, merged.Sketch.N);
        Assert.Equal(whole.Sketch.MinItem, merged.Sketch.MinItem);
        Assert.Equal(whole.Sketch.MaxItem, merged.Sketch.MaxItem);
        Assert.True(merged.NaNCount > 0);
    }

    [Fact]
    public void Restore_refuses_statistics_that_disagree_with_the_sketch()
    {
        var acc = new FeatureAccumulator();
        acc.Add([1f, 2f, 3f]);
        var bad = acc.Statistics with { Count = 4 };
        var ex = Assert.Throws<ArgumentException>(() => FeatureAccumulator.Restore(bad, acc.Sketch.Copy()));
        Assert.Contains("count 4 differs from the sketch's N 3", ex.Message, StringComparison.Ordinal);
    }
}
