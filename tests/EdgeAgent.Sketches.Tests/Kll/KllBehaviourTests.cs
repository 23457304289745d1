using EdgeAgent.Sketches.Kll;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Kll;

public sealed class KllBehaviourTests
{
    [Fact]
    public void NaN_is_ignored_by_the_sketch()
    {
        var s = new KllFloatsSketch(200);
        s.Update([1f, float.NaN, 2f, float.NaN]);
        Assert.Equal(2, s.N);
        Assert.Equal(1f, s.MinItem);
        Assert.Equal(2f, s.MaxItem);
    }

    [Fact]
    public void Infinities_are_ordinary_values_for_the_raw_sketch()
    {
        var s = new KllFloatsSketch(200);
        s.Update([float.NegativeInfinity, 0f, float.PositiveInfinity]);
        Assert.Equal(3, s.N);
        Assert.Equal(float.NegativeInfinity, s.MinItem);
        Assert.Equal(float.PositiveInfinity, s.MaxItem);
        Assert.Equal(float.PositiveInfinity, KllFloatsSketch.Deserialize(s.ToByteArray()).MaxItem);
    }

    [Fact]
    public void Span_update_is_equivalent_to_value_by_value_update_including_NaN()
    {
        var rng = new Random(17);
        var data = new float[250_000];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = rng.Next(50) == 0 ? float.NaN : (float)TestData.Gaussian(rng);
        }

        var scalar = new KllFloatsSketch(200, new Random(4));
        foreach (float v in data)
        {
            scalar.Update(v);
        }

        var bulk = new KllFloatsSketch(200, new Random(4));
        int pos = 0;
        while (pos < data.Length)
        {
            int len = Math.Min(rng.Next(1, 700), data.Length - pos);
            bulk.Update(data.AsSpan(pos, len));
            pos += len;
        }

        Assert.Equal(scalar.N, bulk.N);
        Assert.Equal(scalar.ToByteArray(), bulk.ToByteArray());
        var nanOnly = new KllFloatsSketch(200);
        nanOnly.Update([float.NaN, float.NaN]);
        Assert.True(nanOnly.IsEmpty);
        Assert.True(float.IsNaN(nanOnly.MinItem));
    }

    [Fact]
    public void K_outside_the_format_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KllFloatsSketch(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KllFloatsSketch(65536));
    }

    [Fact]
    public void Exact_mode_ranks_and_quantiles_follow_the_inclusive_and_exclusive_definitions()
    {
        var s = new KllFloatsSketch(200);
        s.Update([10f, 20f, 20f, 30f]);
        Assert.Equal(0.75, s.GetRank(20f));
        Assert.Equal(0.25, s.GetRank(20f, inclusive: false));
        Assert.Equal(0.0, s.GetRank(5f));
        Assert.Equal(1.0, s.GetRank(30f));
        Assert.Equal(10f, s.GetQuantile(0.25));
        Assert.Equal(20f, s.GetQuantile(0.25, inclusive: false));
        Assert.Equal(20f, s.GetQuantile(0.5));
        Assert.Equal(10f, s.GetQuantile(0));
        Assert.Equal(30f, s.GetQuantile(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.GetSortedView().GetQuantile(1.5));
    }

    [Fact]
    public void CDF_and_PMF_over_split_points_are_exact_in_exact_mode_and_within_bound_in_estimation_mode()
    {
        var small = new KllFloatsSketch(200);
        small.Update([1f, 2f, 2f, 3f, 10f]);
        Assert.Equal(new[] { 0.2, 0.6, 0.8, 1.0 }, small.GetCdf([1f, 2f, 5f]));
        Assert.Equal(new[] { 0.2, 0.4, 0.2, 0.2 }, small.GetPmf([1f, 2f, 5f]).Select(v => Math.Round(v, 12)));
        Assert.Throws<ArgumentException>(() => small.GetCdf([2f, 1f]));
        Assert.Throws<ArgumentException>(() => small.GetPmf([float.NaN]));
        Assert.Empty(new KllFloatsSketch().GetCdf([1f]));

        var data = TestData.Generate(StreamShape.Uniform, 500_000, 21);
        var big = new KllFloatsSketch(200, new Random(21));
        big.Update(data);
        float[] splits = [0.1f, 0.25f, 0.5f, 0.75f, 0.9f];
        var pmf = big.GetPmf(splits);
        Array.Sort(data);
        int previous = 0;
        for (int i = 0; i <= splits.Length; i++)
        {
            int upTo = i < splits.Length ? TestData.CountAtMost(data, splits[i]) : data.Length;
            double exact = (double)(upTo - previous) / data.Length;
            Assert.InRange(Math.Abs(pmf[i] - exact), 0, big.NormalizedRankError(pmf: true));
            previous = upTo;
        }

        Assert.Equal(1.0, pmf.Sum(), 12);
    }

    [Fact]
    public void Normalized_rank_error_matches_the_published_fit()
    {
        Assert.Equal(0.0133, KllFloatsSketch.NormalizedRankError(200, false), 4);
        Assert.Equal(0.0165, KllFloatsSketch.NormalizedRankError(200, true), 4);
        Assert.Equal(0.0068, KllFloatsSketch.NormalizedRankError(400, false), 4);
    }

    [Fact]
    public void Retained_items_stay_within_the_capacity_of_the_levels()
    {
        var s = new KllFloatsSketch(200, new Random(9));
        var rng = new Random(9);
        for (int i = 0; i < 2_000_000; i++)
        {
            s.Update((float)rng.NextDouble());
            if ((i & 0xFFFF) == 0)
            {
                Assert.True(s.NumRetained <= KllCapacity.TotalCapacity(200, s.NumLevels));
            }
        }

        // O(k log(n/k)) storage: far below n.
        Assert.InRange(s.NumRetained, 200, 700);
    }
}
