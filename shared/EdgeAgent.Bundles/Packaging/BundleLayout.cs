namespace EdgeAgent.Bundles;

/// <summary>Names and limits of the bundle format (format 1).</summary>
public static class BundleLayout
{
    public const string ManifestEntry = "manifest.json";
    public const string ModelEntry = "model.onnx";

    /// <summary>The TUF target path of a release: <c>models/&lt;name&gt;/&lt;version&gt;.bundle</c>.</summary>
    public static string TargetPath(string name, string version)
    {
        RequireName(name, "name");
        RequireName(version, "version");
        return $"models/{name}/{version}.bundle";
    }

    /// <summary>True when <paramref name="targetPath"/> is a bundle of <paramref name="family"/>; gives the version.</summary>
    public static bool TryParseTargetPath(string targetPath, string family, out string version)
    {
        version = "";
        var prefix = $"models/{family}/";
        if (!targetPath.StartsWith(prefix, StringComparison.Ordinal) || !targetPath.EndsWith(".bundle", StringComparison.Ordinal)) return false;
        var v = targetPath[prefix.Length..^".bundle".Length];
        if (!IsName(v)) return false;
        version = v;
        return true;
    }

    /// <summary>Names and versions are 1–64 characters of [A-Za-z0-9._-], not starting with '.': safe as file names and URL segments.</summary>
    public static bool IsName(string? s) =>
        s is { Length: > 0 and <= 64 } && s[0] != '.' && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    internal static void RequireName(string? s, string field)
    {
        if (!IsName(s))
            throw new BundleException(BundleFailure.Manifest, $"manifest.json: {field} '{s}' must be 1–64 characters of letters, digits, '.', '_' or '-', not starting with '.'.");
    }
}

/// <summary>Size caps applied while reading a bundle (defaults suit small devices).</summary>
public sealed record BundleLimits
{
    public static BundleLimits Default { get; } = new();

    public long MaxManifestBytes { get; init; } = 4 * 1024 * 1024;
    public long MaxModelBytes { get; init; } = 256L * 1024 * 1024;
}
