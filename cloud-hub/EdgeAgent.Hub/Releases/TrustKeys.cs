using System.Text;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Repository;

namespace EdgeAgent.Hub.Releases;

/// <summary>A key directory is missing, incomplete, too open or inconsistent; the message says what to do.</summary>
public sealed class TrustKeyException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>File names of the key directories written by <see cref="KeyCeremony"/> (Releases/README.md).</summary>
public static class TrustKeyLayout
{
    public const string OfflineDirectory = "offline";
    public const string OnlineDirectory = "online";

    /// <summary>Online private keys: one per online role (assignments is the delegated role of DESIGN §6).</summary>
    public static readonly string[] OnlineRoles = ["targets", "snapshot", "timestamp", "assignments"];

    public static string OnlineKeyFile(string role) => role + ".pem";

    public static string RootKeyFile(int index) => $"root-{index}.pem";

    public static string RootFile(long version) => $"{version}.root.json";

    /// <summary>Owner read/write only: private keys and their directories are readable by nobody else.</summary>
    public const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Writes a new file readable by its owner only (created 0600, never widened in between).</summary>
    internal static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFile;
        using var f = new FileStream(path, options);
        f.Write(Encoding.ASCII.GetBytes(content));
        f.Flush(flushToDisk: true);
    }

    /// <summary>Writes a public file (signed metadata: no secret in it).</summary>
    internal static void WritePublic(string path, byte[] content)
    {
        using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        f.Write(content);
        f.Flush(flushToDisk: true);
    }

    internal static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, PrivateDirectory);
    }
}

/// <summary>Settings of <c>edgehub keys init</c>.</summary>
/// <param name="RootKeys">How many root keys (each one offline PEM file; give them to different people).</param>
/// <param name="RootThreshold">How many root keys must sign a new root (TUF §4.3 threshold).</param>
/// <param name="RootExpiresDays">Validity of root.json v1; rotate (sign v2) before it ends.</param>
public sealed record KeyInitOptions(int RootKeys = 1, int RootThreshold = 1, int RootExpiresDays = 365)
{
    /// <summary>One operator-readable line per unusable setting.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (RootKeys is < 1 or > 32) problems.Add($"--root-keys {RootKeys} must be between 1 and 32");
        if (RootThreshold < 1) problems.Add($"--root-threshold {RootThreshold} must be at least 1");
        else if (RootThreshold > RootKeys) problems.Add($"--root-threshold {RootThreshold} is more than --root-keys {RootKeys}: the root could never be signed");
        if (RootExpiresDays is < 1 or > 3650) problems.Add($"--expires-days {RootExpiresDays} must be between 1 and 3650");
        return problems;
    }
}

/// <summary>What <see cref="KeyCeremony.Init"/> wrote.</summary>
public sealed record KeyInitResult(string OfflineDirectory, string OnlineDirectory, string RootFile, IReadOnlyList<string> RootKeyIds,
    IReadOnlyDictionary<string, string> OnlineKeyIds, DateTimeOffset RootExpires);

/// <summary>
/// The key ceremony: creates every key of the hub's repository and signs root.json v1 with the root keys.
/// Root private keys go to <c>DIR/offline</c> (the operator moves that directory to offline storage;
/// the hub never needs it again until a root rotation); the online keys and the signed root go to
/// <c>DIR/online</c>, which <c>edgehub serve --trust-dir</c> reads. Not thread safe (a one-off CLI step).
/// </summary>
public static class KeyCeremony
{
    /// <exception cref="TrustKeyException">Bad options or the directories already hold keys (never overwritten).</exception>
    public static KeyInitResult Init(string outDirectory, KeyInitOptions options, TimeProvider? time = null)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new TrustKeyException(string.Join("; ", problems));
        var offline = Path.Combine(outDirectory, TrustKeyLayout.OfflineDirectory);
        var online = Path.Combine(outDirectory, TrustKeyLayout.OnlineDirectory);
        foreach (var d in new[] { offline, online })
            if (Directory.Exists(d) && Directory.EnumerateFileSystemEntries(d).Any())
                throw new TrustKeyException($"'{d}' already exists and is not empty; keys are never overwritten. Choose another --out or remove it deliberately.");

        time ??= TimeProvider.System;
        var repo = new TufRepository(time);
        var rootKeys = new List<SigningKey> { repo.RotateKeys("root") };
        for (var i = 1; i < options.RootKeys; i++)
        {
            var k = SigningKey.CreateEcdsaP256();
            repo.AddKey("root", k);
            rootKeys.Add(k);
        }
        repo.SetThreshold("root", options.RootThreshold);
        var online_ = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        foreach (var role in new[] { "targets", "snapshot", "timestamp" }) online_[role] = repo.RotateKeys(role);
        online_["assignments"] = SigningKey.CreateEcdsaP256(); // delegated by targets; not listed in root
        var expires = time.GetUtcNow().AddDays(options.RootExpiresDays);
        repo.SetExpires("root", expires);
        var rootBytes = repo.PublishRoot(); // signed by every root key (at least the threshold)

        Directory.CreateDirectory(outDirectory);
        TrustKeyLayout.CreatePrivateDirectory(offline);
        TrustKeyLayout.CreatePrivateDirectory(online);
        for (var i = 0; i < rootKeys.Count; i++)
            TrustKeyLayout.WritePrivate(Path.Combine(offline, TrustKeyLayout.RootKeyFile(i + 1)), rootKeys[i].ExportPrivateKeyPem());
        // A copy of the root beside the root keys: the next rotation signs on top of it, offline.
        TrustKeyLayout.WritePublic(Path.Combine(offline, TrustKeyLayout.RootFile(1)), rootBytes);
        foreach (var (role, key) in online_)
            TrustKeyLayout.WritePrivate(Path.Combine(online, TrustKeyLayout.OnlineKeyFile(role)), key.ExportPrivateKeyPem());
        TrustKeyLayout.WritePublic(Path.Combine(online, TrustKeyLayout.RootFile(1)), rootBytes);
        var result = new KeyInitResult(offline, online, Path.Combine(online, TrustKeyLayout.RootFile(1)),
            rootKeys.Select(k => k.KeyId).ToList(), online_.ToDictionary(k => k.Key, k => k.Value.KeyId), repo.ExpiresOf("root"));
        foreach (var k in rootKeys.Concat(online_.Values)) k.Dispose();
        return result;
    }
}

/// <summary>
/// The online signing keys and the signed roots read from <c>--trust-dir</c>. Checked at load: every file
/// present, private to its owner, no root private key (those stay offline), and each key listed for its
/// role by the newest root. Thread safe (keys sign concurrently); owns the keys.
/// </summary>
public sealed class OnlineTrustKeys : IDisposable
{
    private OnlineTrustKeys(string directory, IReadOnlyDictionary<string, SigningKey> keys, IReadOnlyList<byte[]> roots)
    {
        Directory = directory;
        Keys = keys;
        Roots = roots;
    }

    public string Directory { get; }

    /// <summary>Role → private key (targets, snapshot, timestamp, assignments).</summary>
    public IReadOnlyDictionary<string, SigningKey> Keys { get; }

    /// <summary>Every <c>N.root.json</c> of the directory in version order (1, 2, …).</summary>
    public IReadOnlyList<byte[]> Roots { get; }

    public IEnumerable<SigningKey> All => Keys.Values;

    /// <exception cref="TrustKeyException">The directory cannot be used; the message says why and what to do.</exception>
    public static OnlineTrustKeys Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new TrustKeyException($"trust directory '{directory}' does not exist; run 'edgehub keys init --out DIR' and pass DIR/online");
        var stray = System.IO.Directory.EnumerateFiles(directory, "root-*.pem").FirstOrDefault();
        if (stray is not null)
            throw new TrustKeyException($"'{stray}' is a root private key inside the online trust directory; root keys must stay offline. Move it to the offline directory.");
        var keys = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        try
        {
            foreach (var role in TrustKeyLayout.OnlineRoles)
            {
                var path = Path.Combine(directory, TrustKeyLayout.OnlineKeyFile(role));
                if (!File.Exists(path))
                    throw new TrustKeyException($"'{path}' is missing: the {role} key. Is '{directory}' the 'online' directory written by 'edgehub keys init'?");
                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
                    throw new TrustKeyException($"'{path}' is readable by other users (mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}); run 'chmod 600 {path}'.");
                try
                {
                    keys[role] = SigningKey.FromPrivateKeyPem(File.ReadAllText(path));
                }
                catch (TufException e)
                {
                    throw new TrustKeyException($"'{path}' is not a usable private key: {e.Message}", e);
                }
            }
            var roots = new SortedDictionary<long, byte[]>();
            foreach (var f in System.IO.Directory.EnumerateFiles(directory, "*.root.json"))
                if (long.TryParse(Path.GetFileName(f).Split('.')[0], out var v) && v > 0) roots[v] = File.ReadAllBytes(f);
            if (roots.Count == 0)
                throw new TrustKeyException($"'{directory}' holds no N.root.json; copy the signed root written by 'edgehub keys init' (1.root.json) into it.");
            if (roots.Keys.First() != 1 || roots.Keys.Last() != roots.Count)
                throw new TrustKeyException($"'{directory}' holds root versions [{string.Join(",", roots.Keys)}]; every version from 1 on must be present (clients walk the chain).");
            var newest = SignedMetadata<RootMetadata>.Parse(roots.Values.Last(), static (j, w) => new RootMetadata(j, w), $"{roots.Keys.Last()}.root.json").Signed;
            foreach (var role in new[] { "targets", "snapshot", "timestamp" })
                if (!newest.Roles[role].KeyIds.Contains(keys[role].KeyId))
                    throw new TrustKeyException($"{TrustKeyLayout.OnlineKeyFile(role)} (key {keys[role].KeyId[..12]}…) is not a {role} key of {newest.Version}.root.json; the keys and the root come from different ceremonies.");
            return new OnlineTrustKeys(directory, keys, roots.Values.ToList());
        }
        catch (Exception e) when (e is TufException or IOException or UnauthorizedAccessException)
        {
            foreach (var k in keys.Values) k.Dispose();
            throw new TrustKeyException($"trust directory '{directory}' cannot be used: {e.Message}", e);
        }
        catch
        {
            foreach (var k in keys.Values) k.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var k in Keys.Values) k.Dispose();
    }
}
