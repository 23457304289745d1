using System.Text;
using System.Text.Json;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;
using Xunit;

namespace EdgeAgent.Sketches.Tests.Profiles;

public sealed class ReferenceProfileTests
{
    private static ReferenceProfile Sample()
    {
        var temp = new FeatureAccumulator(random: new Random(1));
        temp.Add(TestData.Generate(StreamShape.Normal, 50_000, 1));
        temp.Add([float.NaN, float.PositiveInfinity]);
        var vib = new FeatureAccumulator(random: new Random(2));
        vib.Add(TestData.Generate(StreamShape.LogNormal, 1, 2));
        var empty = new FeatureAccumulator();
        return new ReferenceProfile([
            FeatureProfile.FromAccumulator("temperature", temp),
            FeatureProfile.FromAccumulator("vibration_rms", vib),
            FeatureProfile.FromAccumulator("unused", empty),
        ]);
    }

    private static void AssertSame(ReferenceProfile expected, ReferenceProfile actual)
    {
        Assert.Equal(expected.Features.Select(f => f.Name), actual.Features.Select(f => f.Name));
        for (int i = 0; i < expected.Features.Count; i++)
        {
            Assert.Equal(expected.Features[i].Statistics, actual.Features[i].Statistics);
            Assert.Equal(expected.Features[i].Sketch.ToByteArray(), actual.Features[i].Sketch.ToByteArray());
        }
    }

    [Fact]
    public void JSON_round_trip_keeps_names_statistics_and_sketch_bytes()
    {
        var profile = Sample();
        byte[] json = ReferenceProfileJson.Serialize(profile);
        var back = ReferenceProfileJson.Deserialize(json);
        AssertSame(profile, back);
        Assert.Equal(json, ReferenceProfileJson.Serialize(back));

        using var doc = JsonDocument.Parse(json);
        Assert.Equal(1, doc.RootElement.GetProperty("formatVersion").GetInt32());
        Assert.Equal("datasketches-kll-float", doc.RootElement.GetProperty("sketchFormat").GetString());
        var first = doc.RootElement.GetProperty("features")[0];
        Assert.Equal("temperature", first.GetProperty("name").GetString());
        Assert.Equal(1, first.GetProperty("nanCount").GetInt64());
        Assert.Equal(profile["temperature"].Sketch.ToByteArray(), Convert.FromBase64String(first.GetProperty("sketch").GetString()!));
    }

    [Fact]
    public void Binary_round_trip_keeps_names_statistics_and_sketch_bytes()
    {
        var profile = Sample();
        byte[] bin = ReferenceProfileBinary.Serialize(profile);
        var back = ReferenceProfileBinary.Deserialize(bin);
        AssertSame(profile, back);
        Assert.Equal(bin, ReferenceProfileBinary.Serialize(back));
        Assert.True(bin.Length < ReferenceProfileJson.Serialize(profile).Length);
    }

    [Fact]
    public void A_profile_feature_becomes_an_accumulator_for_drift_assessment()
    {
        var profile = Sample();
        var reference = profile["temperature"].ToAccumulator();
        var current = new FeatureAccumulator(random: new Random(5));
        current.Add(TestData.Generate(StreamShape.Normal, 5_000, 5));
        var report = DriftAssessment.Assess("temperature", reference, current);
        Assert.False(report.Drifted);
        Assert.Equal(50_000, report.ReferenceCount);
    }

    [Fact]
    public void Unknown_feature_lookup_names_the_features_present()
    {
        var ex = Assert.Throws<KeyNotFoundException>(() => Sample()["pressure"]);
        Assert.Contains("temperature, vibration_rms, unused", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_or_empty_feature_names_are_refused()
    {
        var s = new KllFloatsSketch();
        var stats = new FeatureStatistics(0, 0, 0, 0, 0, 0);
        Assert.Contains("more than once", Assert.Throws<ReferenceProfileFormatException>(() =>
            new ReferenceProfile([new FeatureProfile("a", stats, s), new FeatureProfile("a", stats, s)])).Message, StringComparison.Ordinal);
        Assert.Contains("empty name", Assert.Throws<ReferenceProfileFormatException>(() =>
            new ReferenceProfile([new FeatureProfile(" ", stats, s)])).Message, StringComparison.Ordinal);
    }

    private static string Json(ReferenceProfile p) => Encoding.UTF8.GetString(ReferenceProfileJson.Serialize(p));

    [Fact]
    public void JSON_with_a_corrupt_sketch_is_refused_naming_the_feature()
    {
        string json = Json(Sample());
        var doc = JsonSerializer.Deserialize(json, ReferenceProfileJsonContext.Default.ReferenceProfileDocument)!;
        var bytes = Convert.FromBase64String(doc.Features[0].Sketch);
        bytes[2] = 3; // wrong family
        doc.Features[0].Sketch = Convert.ToBase64String(bytes);
        var ex = Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.FromDocument(doc));
        Assert.Contains("feature 'temperature'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("family id is 3", ex.Message, StringComparison.Ordinal);

        doc.Features[0].Sketch = "not base64!";
        Assert.Contains("not valid base64", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.FromDocument(doc)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JSON_whose_count_disagrees_with_the_sketch_is_refused()
    {
        var doc = ReferenceProfileJson.ToDocument(Sample());
        doc.Features[1].Count = 99;
        var ex = Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.FromDocument(doc));
        Assert.Contains("'vibration_rms'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("count 99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_versions_and_non_JSON_are_refused()
    {
        var doc = ReferenceProfileJson.ToDocument(Sample());
        doc.FormatVersion = 2;
        Assert.Contains("version 2", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.FromDocument(doc)).Message, StringComparison.Ordinal);
        doc.FormatVersion = 1;
        doc.SketchFormat = "tdigest";
        Assert.Contains("'tdigest'", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.FromDocument(doc)).Message, StringComparison.Ordinal);
        Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.Deserialize("{\"features\": 5}"u8));
        Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.Deserialize("null"u8));
        Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileJson.Deserialize("garbage"u8));
    }

    [Fact]
    public void Malformed_binary_profiles_are_refused()
    {
        byte[] bin = ReferenceProfileBinary.Serialize(Sample());
        Assert.Contains("EAPR", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileBinary.Deserialize("JUNKJUNKJUNK"u8)).Message, StringComparison.Ordinal);
        var wrongVersion = (byte[])bin.Clone();
        wrongVersion[4] = 9;
        Assert.Contains("version 9", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileBinary.Deserialize(wrongVersion)).Message, StringComparison.Ordinal);
        Assert.Contains("trailing", Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileBinary.Deserialize([.. bin, 1])).Message, StringComparison.Ordinal);
        for (int len = 12; len < bin.Length; len += 7)
        {
            Assert.Throws<ReferenceProfileFormatException>(() => ReferenceProfileBinary.Deserialize(bin.AsSpan(0, len)));
        }
    }
}
