using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Profiles;

/// <summary>
/// JSON document of a reference profile. Public so a bundle manifest or hub API can embed it in its own
/// source-generated <see cref="JsonSerializerContext"/>; convert with <see cref="ReferenceProfileJson"/>.
/// <code>
/// { "formatVersion": 1, "sketchFormat": "datasketches-kll-float",
///   "features": [ { "name": "temp", "count": 1000, "mean": 21.5, "m2": 830.2,
///                   "nanCount": 0, "positiveInfinityCount": 0, "negativeInfinityCount": 0,
///                   "sketch": "BQEPAMgACAA..." } ] }
/// </code>
/// </summary>
public sealed class ReferenceProfileDocument
{
    /// <summary>Document version; readers reject versions they do not know.</summary>
    public int FormatVersion { get; set; } = ReferenceProfileJson.CurrentFormatVersion;

    /// <summary>Encoding of <see cref="FeatureProfileDocument.Sketch"/>: always <c>datasketches-kll-float</c>.</summary>
    public string SketchFormat { get; set; } = ReferenceProfileJson.SketchFormatName;

    /// <summary>Features in order.</summary>
    public List<FeatureProfileDocument> Features { get; set; } = [];
}

/// <summary>JSON form of one <see cref="FeatureProfile"/>.</summary>
public sealed class FeatureProfileDocument
{
    /// <summary>Feature name.</summary>
    public string Name { get; set; } = "";

    /// <summary>Finite values counted.</summary>
    public long Count { get; set; }

    /// <summary>Mean of the finite values.</summary>
    public double Mean { get; set; }

    /// <summary>Sum of squared deviations from the mean (Welford M2).</summary>
    public double M2 { get; set; }

    /// <summary>NaN values seen.</summary>
    public long NanCount { get; set; }

    /// <summary>+∞ values seen.</summary>
    public long PositiveInfinityCount { get; set; }

    /// <summary>−∞ values seen.</summary>
    public long NegativeInfinityCount { get; set; }

    /// <summary>Base64 of the DataSketches compact KLL float sketch bytes.</summary>
    public string Sketch { get; set; } = "";
}

/// <summary>Source-generated (reflection-free, AOT-safe) JSON metadata for profile documents.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false,
    NumberHandling = JsonNumberHandling.Strict, UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(ReferenceProfileDocument))]
public sealed partial class ReferenceProfileJsonContext : JsonSerializerContext
{
}

/// <summary>Reads and writes <see cref="ReferenceProfile"/> as JSON.</summary>
public static class ReferenceProfileJson
{
    /// <summary>The document version this code writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Value of <see cref="ReferenceProfileDocument.SketchFormat"/>.</summary>
    public const string SketchFormatName = "datasketches-kll-float";

    /// <summary>Converts a profile to its document.</summary>
    public static ReferenceProfileDocument ToDocument(ReferenceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var doc = new ReferenceProfileDocument();
        foreach (var f in profile.Features)
        {
            doc.Features.Add(new FeatureProfileDocument
            {
                Name = f.Name,
                Count = f.Statistics.Count,
                Mean = f.Statistics.Mean,
                M2 = f.Statistics.M2,
                NanCount = f.Statistics.NaNCount,
                PositiveInfinityCount = f.Statistics.PositiveInfinityCount,
                NegativeInfinityCount = f.Statistics.NegativeInfinityCount,
                Sketch = Convert.ToBase64String(f.Sketch.ToByteArray()),
            });
        }

        return doc;
    }

    /// <summary>Validates a document and builds the profile.</summary>
    /// <exception cref="ReferenceProfileFormatException">Unknown version or sketch format, bad base64, bad sketch, inconsistent statistics.</exception>
    public static ReferenceProfile FromDocument(ReferenceProfileDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (document.FormatVersion != CurrentFormatVersion)
        {
            throw new ReferenceProfileFormatException($"reference profile format version {document.FormatVersion} is not supported (this agent reads version {CurrentFormatVersion})");
        }

        if (document.SketchFormat != SketchFormatName)
        {
            throw new ReferenceProfileFormatException($"reference profile sketch format '{document.SketchFormat}' is not supported (expected '{SketchFormatName}')");
        }

        if (document.Features is null)
        {
            throw new ReferenceProfileFormatException("reference profile has no 'features' array");
        }

        var features = new List<FeatureProfile>(document.Features.Count);
        for (int i = 0; i < document.Features.Count; i++)
        {
            var fd = document.Features[i] ?? throw new ReferenceProfileFormatException($"feature #{i} is null");
            string label = string.IsNullOrEmpty(fd.Name) ? $"#{i}" : $"'{fd.Name}'";
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(fd.Sketch ?? "");
            }
            catch (FormatException ex)
            {
                throw new ReferenceProfileFormatException($"feature {label}: sketch is not valid base64", ex);
            }

            KllFloatsSketch sketch;
            try
            {
                sketch = KllFloatsSketch.Deserialize(bytes);
            }
            catch (KllFormatException ex)
            {
                throw new ReferenceProfileFormatException($"feature {label}: {ex.Message}", ex);
            }

            var stats = new FeatureStatistics(fd.Count, fd.Mean, fd.M2, fd.NanCount, fd.PositiveInfinityCount, fd.NegativeInfinityCount);
            features.Add(new FeatureProfile(fd.Name ?? "", stats, sketch));
        }

        return new ReferenceProfile(features);
    }

    /// <summary>Serializes to UTF-8 JSON.</summary>
    public static byte[] Serialize(ReferenceProfile profile) =>
        JsonSerializer.SerializeToUtf8Bytes(ToDocument(profile), ReferenceProfileJsonContext.Default.ReferenceProfileDocument);

    /// <summary>Parses UTF-8 JSON.</summary>
    /// <exception cref="ReferenceProfileFormatException">Not JSON, not a profile document, or an invalid profile.</exception>
    public static ReferenceProfile Deserialize(ReadOnlySpan<byte> utf8Json)
    {
        ReferenceProfileDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize(utf8Json, ReferenceProfileJsonContext.Default.ReferenceProfileDocument);
        }
        catch (JsonException ex)
        {
            throw new ReferenceProfileFormatException($"reference profile is not valid JSON of the expected shape: {ex.Message}", ex);
        }

        return FromDocument(doc ?? throw new ReferenceProfileFormatException("reference profile JSON is 'null'"));
    }
}
