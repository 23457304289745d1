using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Bundles.Manifest;

/// <summary>Source-generated (reflection-free, AOT-safe) JSON metadata of the manifest.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true,
    NumberHandling = JsonNumberHandling.Strict,
    // A misspelt field in a release must not pass silently ("hardwareId" for "hardwareIds").
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(BundleManifest))]
public sealed partial class BundleManifestJsonContext : JsonSerializerContext
{
}

/// <summary>Reads and writes <c>manifest.json</c>.</summary>
public static class BundleManifestJson
{
    public static byte[] Serialize(BundleManifest manifest) =>
        JsonSerializer.SerializeToUtf8Bytes(manifest, BundleManifestJsonContext.Default.BundleManifest);

    /// <summary>Parses and validates (<see cref="ManifestRules.Validate"/>); throws <see cref="BundleException"/>.</summary>
    public static BundleManifest Parse(ReadOnlySpan<byte> json)
    {
        BundleManifest? manifest;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16, CommentHandling = JsonCommentHandling.Disallow });
            manifest = JsonSerializer.Deserialize(ref reader, BundleManifestJsonContext.Default.BundleManifest);
        }
        catch (JsonException e)
        {
            throw new BundleException(BundleFailure.Manifest, $"manifest.json is not a valid manifest: {e.Message}", e);
        }
        if (manifest is null) throw new BundleException(BundleFailure.Manifest, "manifest.json is 'null'.");
        ManifestRules.Validate(manifest);
        return manifest;
    }
}
