using System.Formats.Tar;
using System.Security.Cryptography;
using EdgeAgent.Bundles.Manifest;

namespace EdgeAgent.Bundles;

/// <summary>
/// Builds a bundle tar: <c>manifest.json</c> then <c>model.onnx</c>, POSIX ustar entries with a
/// fixed timestamp and mode so the same inputs give the same bytes (and the same TUF hash).
/// Fills <see cref="BundleManifest.Model"/> from the model bytes and validates the manifest
/// before writing anything. Stateless and thread safe.
/// </summary>
public static class BundleBuilder
{
    private static readonly DateTimeOffset FixedTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Returns the bundle bytes; <paramref name="manifest"/>'s model entry is set.</summary>
    public static byte[] Build(BundleManifest manifest, ReadOnlySpan<byte> model)
    {
        using var ms = new MemoryStream();
        Write(manifest, model.ToArray(), ms);
        return ms.ToArray();
    }

    /// <summary>Writes the bundle to <paramref name="destination"/> (left open).</summary>
    public static void Write(BundleManifest manifest, byte[] model, Stream destination)
    {
        if (model.Length == 0) throw new BundleException(BundleFailure.Input, "The model file is empty.");
        manifest.Model = new ModelFileInfo
        {
            File = BundleLayout.ModelEntry,
            Length = model.Length,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(model)),
        };
        ManifestRules.Validate(manifest);
        var json = BundleManifestJson.Serialize(manifest);
        using var tar = new TarWriter(destination, TarEntryFormat.Ustar, leaveOpen: true);
        AddFile(tar, BundleLayout.ManifestEntry, json);
        AddFile(tar, BundleLayout.ModelEntry, model);
    }

    private static void AddFile(TarWriter tar, string name, byte[] content)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(content, writable: false),
            ModificationTime = FixedTime,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            Uid = 0,
            Gid = 0,
        };
        tar.WriteEntry(entry);
    }
}
