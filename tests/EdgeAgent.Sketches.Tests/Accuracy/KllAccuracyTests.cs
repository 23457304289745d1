using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeAgent.Sketches.Kll;
using Xunit;
using Xunit.Abstractions;

namespace EdgeAgent.Sketches.Tests.Accuracy;

/// <summary>
/// Rank accuracy against exact ranks (the data is sorted once per seed). The published DataSketches bound
/// for K = 200 is 1.33 % single-sided at the 99th percentile; we check the 99th percentile of the per-seed
/// maximum error over a 1000-point grid.
/// </summary>
public sealed class KllAccuracyTests(ITestOutputHelper output)
{
    private const int K = 200;

    public static TheoryData<StreamShape> AllShapes()
    {
        var data = new TheoryData<StreamShape>();
        foreach (var s in Enum.GetValues<StreamShape>())
        {
            data.Add(s);
        }

        return data;
    }

    private (double P99, double Max, double Mean, double[] Errors) Run(StreamShape shape, int n, int seeds)
    {
        var errors = new ConcurrentBag<double>();
        var sw = Stopwatch.StartNew();
        Parallel.For(0, seeds, new ParallelOptions { MaxDegreeOfParallelism = 2 }, seed =>
        {
            var data = TestData.Generate(shape, n, 1000 + seed);
            var sketch = new KllFloatsSketch(K, new Random(seed * 7919 + (int)shape));
            sketch.Update(data);
            Assert.Equal(n, sketch.N);
            Array.Sort(data);
            Assert.Equal(data[0], sketch.MinItem);
            Assert.Equal(data[^1], sketch.MaxItem);
            errors.Add(TestData.MaxRankError(sketch, data));
        });
        double p99 = TestData.Percentile(errors, 99);
        double max = errors.Max();
        double mean = errors.Average();
        output.WriteLine($"{shape} N={n} seeds={seeds}: p99={p99:P3} max={max:P3} mean={mean:P3} bound={KllFloatsSketch.NormalizedRankError(K, false):P3} ({sw.Elapsed.TotalSeconds:F1} s)");
        return (p99, max, mean, [.. errors]);
    }

    /// <summary>
    /// Default run: 200 seeds at N = 10^5 (about ten compaction levels, so the bound is exercised for real);
    /// long run (EDGEAGENT_LONG_TESTS=1): 200 seeds at N = 10^6. The 99th percentile (nearest rank, so at most
    /// two of the 200 seeds) must stay within the bound.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllShapes))]
    public void Rank_error_99th_percentile_over_200_seeds_stays_within_the_published_bound(StreamShape shape)
    {
        double bound = KllFloatsSketch.NormalizedRankError(K, pmf: false);
        int n = TestData.LongMode ? 1_000_000 : 100_000;
        var (p99, _, _, _) = Run(shape, n, 200);
        Assert.True(p99 <= bound, $"{shape}: 99th percentile of max rank error {p99:P3} exceeds the published bound {bound:P3} at N={n}");
    }

    /// <summary>
    /// Default-run slice at the full N = 10^6: 8 seeds per shape. With a true exceedance probability of at most
    /// 1 % per seed, two or more exceedances among 8 seeds has probability below 0.3 %, so we allow one.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllShapes))]
    public void At_one_million_values_at_most_one_of_eight_seeds_exceeds_the_published_bound(StreamShape shape)
    {
        double bound = KllFloatsSketch.NormalizedRankError(K, pmf: false);
        var (_, _, _, errors) = Run(shape, 1_000_000, 8);
        int exceeding = errors.Count(e => e > bound);
        Assert.True(exceeding <= 1, $"{shape}: {exceeding} of 8 seeds exceed the bound {bound:P3} (errors: {string.Join(", ", errors.Select(e => e.ToString("P3")))})");
    }
}
