namespace EdgeAgent.Trust.Storage;

/// <summary>
/// The client's metadata directory as the TUF client CLI convention defines it: one unversioned
/// <c>&lt;role&gt;.json</c> per trusted role holding the exact bytes received, role names
/// URL-quoted (so <c>../x</c> becomes <c>..%2Fx.json</c> and cannot escape the directory), and
/// nothing else ending in <c>.json</c>. Not thread safe: one client per directory at a time.
/// </summary>
public sealed class MetadataDirectory
{
    public MetadataDirectory(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }

    /// <summary>The file name for <paramref name="role"/>: percent-encoded like Python's <c>quote(role, safe="")</c>.</summary>
    public static string FileNameFor(string role) => Uri.EscapeDataString(role) + ".json";

    public string PathFor(string role) => System.IO.Path.Combine(Path, FileNameFor(role));

    /// <summary>The trusted bytes of <paramref name="role"/>, or null when absent.</summary>
    public byte[]? TryRead(string role, long maxLength)
    {
        var p = PathFor(role);
        var info = new FileInfo(p);
        if (!info.Exists) return null;
        if (info.Length > maxLength)
            throw new TufException(TufFailureKind.State, $"Local {FileNameFor(role)} is {info.Length} bytes, above the {maxLength}-byte cap; it is not trusted.");
        return File.ReadAllBytes(p);
    }

    public Task WriteAsync(string role, byte[] content, CancellationToken cancellationToken) =>
        DurableFile.WriteAsync(PathFor(role), content, cancellationToken);

    public void Delete(string role) => DurableFile.Delete(PathFor(role));
}
