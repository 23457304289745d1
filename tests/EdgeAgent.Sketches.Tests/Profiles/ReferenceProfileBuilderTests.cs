using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Profiles;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Profiles;

public sealed class ReferenceProfileBuilderTests
{
    private static ReferenceProfileBuilder Training(int rows, int seed, float shiftOfB = 0)
    {
        var rng = new Random(seed);
        var b = new ReferenceProfileBuilder(["a", "b"], random: new Random(seed));
        for (int i = 0; i < rows; i++)
        {
            b.AddRow([(float)TestData.Gaussian(rng), (float)(rng.NextDouble() + shiftOfB)]);
        }

        return b;
    }

    [Fact]
    public void Rows_are_split_into_named_features_and_sharded_builds_merge()
    {
        var whole = Training(20_000, 1);
        var shardA = Training(12_000, 2);
        var shardB = Training(8_000, 3);
        shardA.Merge(shardB);
        Assert.Equal(20_000, shardA.Rows);
        var profile = shardA.Build();
        Assert.Equal(["a", "b"], profile.Features.Select(f => f.Name));
        Assert.Equal(20_000, profile["b"].Sketch.N);
        Assert.Equal(whole.Build()["b"].Statistics.Count, profile["b"].Statistics.Count);
        Assert.InRange(profile["b"].Statistics.Mean, 0.49, 0.51);
    }

    [Fact]
    public void Rows_of_the_wrong_length_are_refused_naming_the_features()
    {
        var b = new ReferenceProfileBuilder(["x", "y"]);
        var ex = Assert.Throws<ArgumentException>(() => b.AddRow([1f]));
        Assert.Contains("row has 1 values but the profile has 2 features (x, y)", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ReferenceProfileBuilder(["x", "x"]));
        Assert.Throws<ArgumentException>(() => b.Merge(new ReferenceProfileBuilder(["y", "x"])));
    }

    [Fact]
    public void A_profile_assessment_flags_only_the_feature_that_moved_and_reports_missing_ones()
    {
        var reference = Training(50_000, 1).Build();
        var live = Training(10_000, 9, shiftOfB: 0.3f);
        var current = new Dictionary<string, FeatureAccumulator> { ["a"] = live[0], ["b"] = live[1] };
        var reports = DriftAssessment.Assess(reference, current);
        Assert.False(reports.Single(r => r.Feature == "a").Drifted);
        Assert.True(reports.Single(r => r.Feature == "b").Drifted);

        var partial = DriftAssessment.Assess(reference, new Dictionary<string, FeatureAccumulator> { ["a"] = live[0] });
        var missing = partial.Single(r => r.Feature == "b");
        Assert.Equal(0, missing.CurrentCount);
        Assert.False(missing.Drifted);

        // Assessing must not alter the profile.
        Assert.Equal(reference["b"].Sketch.ToByteArray(), ReferenceProfileBinary.Deserialize(ReferenceProfileBinary.Serialize(reference))["b"].Sketch.ToByteArray());
    }
}
