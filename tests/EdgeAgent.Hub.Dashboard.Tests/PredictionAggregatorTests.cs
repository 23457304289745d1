using EdgeAgent.Hub.Storage;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests;

public sealed class PredictionAggregatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Buckets_are_aligned_to_the_clock_and_empty_ones_are_listed_as_zero()
    {
        var samples = new[]
        {
            new PredictionSample(T0.AddMinutes(1), "d", "m", "local", 100, 400, 0.9),
            new PredictionSample(T0.AddMinutes(14), "d", "m", "fallback", 300, 600, 0.4),
            new PredictionSample(T0.AddMinutes(50), "d", "m", "cloud", 200, 25_000, 0.5),
        };
        var s = PredictionAggregator.Aggregate(samples, T0.AddMinutes(-7), T0.AddHours(1).AddMinutes(-7), truncated: false);
        Assert.Equal(60, s.BucketSeconds);
        Assert.Equal(T0.AddMinutes(-7), s.Points[0].T);
        Assert.Equal(61, s.Points.Count);
        Assert.Equal(3, s.Points.Sum(p => p.Count));
        Assert.Null(s.Points[0].FallbackRate);
        var fallback = s.Points.Single(p => p.T == T0.AddMinutes(14));
        Assert.Equal((1L, 1.0), (fallback.Fallback, fallback.FallbackRate!.Value));
        Assert.Equal((1L, 1L, 1L), (s.Totals.Local, s.Totals.Cloud, s.Totals.Fallback));
        Assert.Equal(1.0 / 3, s.Totals.FallbackRate!.Value, 9);
        Assert.Equal("m", s.ByModel.Single().Model);
    }

    [Theory]
    [InlineData(1, 60)]
    [InlineData(6, 300)]
    [InlineData(24, 900)]
    [InlineData(72, 3600)]
    [InlineData(168, 7200)]
    [InlineData(720, 21600)]
    public void The_bucket_width_keeps_a_chart_under_the_point_limit(int hours, int seconds)
    {
        Assert.Equal(seconds, PredictionAggregator.ChooseBucketSeconds(TimeSpan.FromHours(hours)));
        Assert.True(hours * 3600 / seconds <= PredictionAggregator.MaxBuckets);
    }

    [Fact]
    public void Percentiles_are_nearest_rank()
    {
        var v = Enumerable.Range(1, 100).Select(i => (double)i).ToList();
        Assert.Equal(50, PredictionAggregator.Percentile(v, 0.5));
        Assert.Equal(95, PredictionAggregator.Percentile(v, 0.95));
        Assert.Equal(7, PredictionAggregator.Percentile([7], 0.95));
        Assert.Null(PredictionAggregator.Percentile([], 0.5));
    }
}
