using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>One static file of the dashboard, with its strong ETag.</summary>
public sealed record DashboardAsset(string Path, string ContentType, byte[] Content, string ETag);

/// <summary>
/// The dashboard's static files (HTML, CSS, ES modules), embedded in the hub assembly from
/// <c>Dashboard/Assets/</c> with logical names <c>dashboard/PATH</c> (EdgeAgent.Hub.csproj), so the
/// hub serves them with no build step, no CDN and no files to deploy. Loaded once; immutable; thread-safe.
/// </summary>
public sealed class DashboardAssets
{
    private const string Prefix = "dashboard/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".json"] = "application/json",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, DashboardAsset> _assets;

    public DashboardAssets() : this(typeof(DashboardAssets).Assembly) { }

    public DashboardAssets(Assembly assembly)
    {
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            // RecursiveDir carries the build machine's separator: normalise so Windows builds serve the same paths.
            var path = name.Replace('\\', '/');
            if (!path.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            path = path[Prefix.Length..];
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            var bytes = ms.ToArray();
            var type = ContentTypes.GetValueOrDefault(System.IO.Path.GetExtension(path), "application/octet-stream");
            assets[path] = new DashboardAsset(path, type, bytes, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..32] + "\"");
        }
        if (!assets.ContainsKey("index.html"))
            throw new InvalidOperationException("the dashboard's index.html is not embedded in the hub assembly (EdgeAgent.Hub.csproj, EmbeddedResource Dashboard/Assets/**)");
        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Relative paths of all embedded files.</summary>
    public IEnumerable<string> Paths => _assets.Keys;

    public DashboardAsset? Find(string path) => _assets.GetValueOrDefault(path);
}
