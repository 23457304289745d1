using System.Formats.Tar;
using System.Security.Cryptography;
using EdgeAgent.Bundles.Manifest;

namespace EdgeAgent.Bundles;

/// <summary>A bundle read and checked: the validated manifest and the model bytes whose length and SHA-256 match it.</summary>
public sealed record ModelBundle(BundleManifest Manifest, byte[] ManifestJson, byte[] Model);

/// <summary>
/// Reads a bundle defensively. The tar must hold exactly two regular files named exactly
/// <c>manifest.json</c> and <c>model.onnx</c> (no directories, links, devices, duplicates, other
/// names — so no path can escape anywhere: nothing is ever extracted by entry name), each under
/// its size cap (checked before its data is read); the manifest must validate and the model must
/// match the manifest's length and SHA-256. Trust comes from the TUF hash of the whole tar, checked
/// before this runs; these checks stop a signed-but-broken release from reaching ONNX Runtime.
/// Stateless and thread safe.
/// </summary>
public static class BundleReader
{
    public static ModelBundle ReadFile(string path, BundleLimits? limits = null)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024);
        return Read(fs, limits);
    }

    public static ModelBundle Read(Stream tarStream, BundleLimits? limits = null)
    {
        limits ??= BundleLimits.Default;
        byte[]? manifestJson = null, model = null;
        try
        {
            using var reader = new TarReader(tarStream, leaveOpen: true);
            var count = 0;
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                if (++count > 2)
                    throw new BundleException(BundleFailure.Entries, $"The bundle holds more than the two entries '{BundleLayout.ManifestEntry}' and '{BundleLayout.ModelEntry}' (extra entry '{Printable(entry.Name)}').");
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    throw new BundleException(BundleFailure.Entries, $"Bundle entry '{Printable(entry.Name)}' is a {entry.EntryType}; only regular files are allowed.");
                long cap;
                switch (entry.Name)
                {
                    case BundleLayout.ManifestEntry when manifestJson is null: cap = limits.MaxManifestBytes; break;
                    case BundleLayout.ModelEntry when model is null: cap = limits.MaxModelBytes; break;
                    case BundleLayout.ManifestEntry or BundleLayout.ModelEntry:
                        throw new BundleException(BundleFailure.Entries, $"Bundle entry '{entry.Name}' appears twice.");
                    default:
                        throw new BundleException(BundleFailure.Entries,
                            $"Bundle entry '{Printable(entry.Name)}' is not allowed: a bundle holds exactly '{BundleLayout.ManifestEntry}' and '{BundleLayout.ModelEntry}' at its top level" +
                            (entry.Name.Contains("..", StringComparison.Ordinal) || entry.Name.StartsWith('/') ? " (path traversal attempt)." : "."));
                }
                if (entry.Length > cap)
                    throw new BundleException(BundleFailure.TooLarge, $"Bundle entry '{entry.Name}' is {entry.Length} bytes, above the {cap}-byte limit.");
                var data = new byte[entry.Length];
                if (entry.Length > 0)
                {
                    var stream = entry.DataStream ?? throw new BundleException(BundleFailure.Format, $"Bundle entry '{entry.Name}' has no data.");
                    stream.ReadExactly(data);
                }
                if (entry.Name == BundleLayout.ManifestEntry) manifestJson = data; else model = data;
            }
        }
        catch (BundleException) { throw; }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException or ArgumentException)
        {
            throw new BundleException(BundleFailure.Format, $"The bundle is not a readable tar archive ({e.Message}); it is corrupt or truncated.", e);
        }
        if (manifestJson is null) throw new BundleException(BundleFailure.Entries, $"The bundle has no '{BundleLayout.ManifestEntry}'.");
        if (model is null) throw new BundleException(BundleFailure.Entries, $"The bundle has no '{BundleLayout.ModelEntry}'.");
        var manifest = BundleManifestJson.Parse(manifestJson);
        if (model.Length != manifest.Model.Length)
            throw new BundleException(BundleFailure.ModelHash, $"model.onnx is {model.Length} bytes but manifest.json says {manifest.Model.Length}.");
        var sha = Convert.ToHexStringLower(SHA256.HashData(model));
        if (!string.Equals(sha, manifest.Model.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new BundleException(BundleFailure.ModelHash, $"model.onnx has SHA-256 {sha} but manifest.json says {manifest.Model.Sha256}.");
        return new ModelBundle(manifest, manifestJson, model);
    }

    private static string Printable(string name) =>
        new(name.Take(120).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
