using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Trust.Repository;

/// <summary>Settings of one delegation made by <see cref="TufRepository.Delegate"/>.</summary>
public sealed record DelegationSpec(
    string Name,
    IReadOnlyList<SigningKey> Keys,
    int Threshold,
    IReadOnlyList<string>? Paths = null,
    IReadOnlyList<string>? PathHashPrefixes = null,
    bool Terminating = false);

/// <summary>
/// Repository tooling (used by the hub and by tests): keys, roles, thresholds, targets,
/// delegations, snapshot and timestamp, expiry, root rotation. Produces TUF 1.0 metadata in
/// canonical JSON with consistent snapshots (<c>N.ROLE.json</c>, <c>HASH.NAME</c> targets),
/// kept in <see cref="Files"/> under <c>metadata/</c> and <c>targets/</c> (URL paths, as a client
/// requests them) and writable to a directory servable over plain HTTP.
/// Not thread safe. Owns its signing keys only if it created them.
/// </summary>
public sealed class TufRepository
{
    private readonly TimeProvider _time;
    private readonly Dictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RoleState> _roles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _targetContent = new(StringComparer.Ordinal);
    private List<SigningKey> _lastRootSigners = [];
    private long _rootPublished;

    private sealed class RoleState
    {
        public long Version;
        public DateTimeOffset Expires;
        public List<SigningKey> Keys = [];
        public int Threshold = 1;
        public Dictionary<string, CjValue> Extra = new(StringComparer.Ordinal);
        public bool Dirty = true;
        // targets roles only
        public Dictionary<string, CjObject> Targets = new(StringComparer.Ordinal);
        public List<DelegationSpec> Delegations = [];
        public string? Delegator;
        public byte[]? Published;
    }

    /// <param name="consistentSnapshot">Root's <c>consistent_snapshot</c> (on by default).</param>
    public TufRepository(TimeProvider? time = null, bool consistentSnapshot = true)
    {
        _time = time ?? TimeProvider.System;
        ConsistentSnapshot = consistentSnapshot;
        var now = _time.GetUtcNow();
        foreach (var (role, days) in new[] { ("root", 365), ("targets", 90), ("snapshot", 7), ("timestamp", 1) })
        {
            var state = new RoleState { Expires = Truncate(now.AddDays(days)) };
            state.Keys.Add(SigningKey.CreateEcdsaP256());
            _roles[role] = state;
        }
        _roles["targets"].Delegator = "root";
    }

    public bool ConsistentSnapshot { get; set; }

    /// <summary>Pin length and hashes of snapshot in timestamp (default on).</summary>
    public bool TimestampPinsHashes { get; set; } = true;

    /// <summary>Pin length and hashes of targets roles in snapshot (default off, like python-tuf).</summary>
    public bool SnapshotPinsHashes { get; set; }

    /// <summary>Also list sha512 for targets added from now on.</summary>
    public bool AddSha512 { get; set; }

    /// <summary>Published files keyed by URL path relative to the repository base (e.g. <c>metadata/1.root.json</c>).</summary>
    public IReadOnlyDictionary<string, byte[]> Files => _files;

    /// <summary>The signers of <paramref name="role"/> (top-level or delegated).</summary>
    public IReadOnlyList<SigningKey> KeysOf(string role) => Role(role).Keys;

    public long VersionOf(string role) => Role(role).Version;

    /// <summary>The last published <c>root.json</c> bytes: what a device is initialised with.</summary>
    public byte[] RootBytes => _files[$"metadata/{_rootPublished}.root.json"];

    public void SetExpires(string role, DateTimeOffset expires)
    {
        var r = Role(role);
        r.Expires = Truncate(expires);
        r.Dirty = true;
    }

    /// <summary>Adds an unknown (extension) field to the role's <c>signed</c> object; it is signed like the rest.</summary>
    public void SetExtraField(string role, string name, CjValue value)
    {
        var r = Role(role);
        r.Extra[name] = value;
        r.Dirty = true;
    }

    public void AddKey(string role, SigningKey key)
    {
        var r = Role(role);
        if (r.Keys.Any(k => k.KeyId == key.KeyId)) return;
        r.Keys.Add(key);
        MarkKeysChanged(role);
    }

    public void RemoveKey(string role, string keyId)
    {
        var r = Role(role);
        if (r.Keys.RemoveAll(k => k.KeyId == keyId) == 0)
            throw new TufException(TufFailureKind.Repository, $"Role '{role}' has no key {keyId}.");
        MarkKeysChanged(role);
    }

    /// <summary>Replaces all keys of <paramref name="role"/> with one new ECDSA key (a rotation).</summary>
    public SigningKey RotateKeys(string role)
    {
        var key = SigningKey.CreateEcdsaP256();
        Role(role).Keys.Clear();
        Role(role).Keys.Add(key);
        MarkKeysChanged(role);
        return key;
    }

    public void SetThreshold(string role, int threshold)
    {
        if (threshold < 1) throw new TufException(TufFailureKind.Repository, "A threshold must be at least 1.");
        Role(role).Threshold = threshold;
        MarkKeysChanged(role);
    }

    private void MarkKeysChanged(string role)
    {
        var r = Role(role);
        r.Dirty = true;
        // Keys of top-level roles live in root; delegated keys live in the delegator.
        Role(r.Delegator is null || r.Delegator == "root" ? "root" : r.Delegator).Dirty = true;
        if (r.Delegator is not null && r.Delegator != "root")
        {
            var d = Role(r.Delegator);
            var i = d.Delegations.FindIndex(x => x.Name == role);
            d.Delegations[i] = d.Delegations[i] with { Keys = r.Keys.ToList(), Threshold = r.Threshold };
        }
    }

    /// <summary>Adds or replaces a target in <paramref name="role"/> with its length, sha256 (and sha512 if enabled) and custom metadata.</summary>
    public TargetFile AddTarget(string path, byte[] content, CjValue? custom = null, string role = "targets")
    {
        var r = Role(role);
        if (r.Delegator is null) throw new TufException(TufFailureKind.Repository, $"'{role}' is not a targets role.");
        var hashes = new List<KeyValuePair<string, CjValue>> { new("sha256", Cj.Str(Convert.ToHexStringLower(SHA256.HashData(content)))) };
        if (AddSha512) hashes.Add(new("sha512", Cj.Str(Convert.ToHexStringLower(SHA512.HashData(content)))));
        var entry = Cj.Obj(("length", Cj.Int(content.Length)), ("hashes", Cj.Obj(hashes)), ("custom", custom));
        r.Targets[path] = entry;
        r.Dirty = true;
        _targetContent[path] = content;
        var file = new TargetsMetadata(Cj.Obj(("_type", Cj.Str("targets")), ("spec_version", Cj.Str("1.0.31")), ("version", Cj.Int(1)),
            ("expires", Cj.Str("2100-01-01T00:00:00Z")), ("targets", Cj.Obj((path, entry)))), "target").Targets[path];
        return file;
    }

    /// <summary>Replaces the raw entry of a target (for adversarial tests: any JSON, even invalid).</summary>
    public void SetTargetEntry(string path, CjObject entry, string role = "targets")
    {
        Role(role).Targets[path] = entry;
        Role(role).Dirty = true;
    }

    public void RemoveTarget(string path, string role = "targets")
    {
        Role(role).Targets.Remove(path);
        Role(role).Dirty = true;
    }

    /// <summary>Delegates from <paramref name="delegator"/> to a new targets role (appended: lowest priority so far).</summary>
    public void Delegate(string delegator, DelegationSpec spec)
    {
        var d = Role(delegator);
        if (d.Delegator is null) throw new TufException(TufFailureKind.Repository, $"'{delegator}' is not a targets role.");
        if (_roles.ContainsKey(spec.Name)) throw new TufException(TufFailureKind.Repository, $"Role '{spec.Name}' already exists.");
        if ((spec.Paths is null) == (spec.PathHashPrefixes is null)) throw new TufException(TufFailureKind.Repository, "A delegation needs exactly one of paths or path hash prefixes.");
        d.Delegations.Add(spec);
        d.Dirty = true;
        _roles[spec.Name] = new RoleState
        {
            Expires = Role(delegator).Expires,
            Keys = spec.Keys.ToList(),
            Threshold = spec.Threshold,
            Delegator = delegator,
        };
    }

    /// <summary>
    /// Publishes everything that changed: root (if its keys or fields changed), dirty targets
    /// roles, then a new snapshot and timestamp.
    /// </summary>
    public void Publish()
    {
        if (Role("root").Dirty) PublishRoot();
        foreach (var name in _roles.Where(r => r.Value.Delegator is not null && (r.Value.Dirty || r.Value.Published is null)).Select(r => r.Key).ToList())
            PublishTargets(name);
        PublishSnapshot();
        PublishTimestamp();
    }

    /// <summary>
    /// Publishes the next root version, signed by the keys of the previous root and of the new one
    /// (TUF §5.3.4/§5.3.5 need both thresholds). <paramref name="signers"/> overrides that (tests).
    /// </summary>
    public byte[] PublishRoot(IEnumerable<SigningKey>? signers = null, long? version = null)
    {
        var r = Role("root");
        r.Version = version ?? r.Version + 1;
        var keys = new List<KeyValuePair<string, CjValue>>();
        var roles = new List<KeyValuePair<string, CjValue>>();
        foreach (var role in RootMetadata.TopLevelRoles)
        {
            var s = Role(role);
            foreach (var k in s.Keys)
                if (keys.All(x => x.Key != k.KeyId)) keys.Add(new(k.KeyId, k.PublicKey.Json));
            roles.Add(new(role, RoleKeysJson(s.Keys, s.Threshold)));
        }
        var signed = Common("root", r).With("consistent_snapshot", Cj.Bool(ConsistentSnapshot))
            .With("keys", Cj.Obj(keys)).With("roles", Cj.Obj(roles));
        var allSigners = signers?.ToList() ?? _lastRootSigners.Concat(r.Keys).DistinctBy(k => k.KeyId).ToList();
        var bytes = Sign(signed, allSigners);
        _files[$"metadata/{r.Version}.root.json"] = bytes;
        _rootPublished = r.Version;
        _lastRootSigners = r.Keys.ToList();
        r.Dirty = false;
        return bytes;
    }

    public byte[] PublishTargets(string role, IEnumerable<SigningKey>? signers = null)
    {
        var r = Role(role);
        r.Version++;
        var signed = Common("targets", r).With("targets", Cj.Obj(r.Targets.Select(t => new KeyValuePair<string, CjValue>(t.Key, t.Value))));
        if (r.Delegations.Count > 0)
        {
            var keys = new List<KeyValuePair<string, CjValue>>();
            foreach (var k in r.Delegations.SelectMany(d => d.Keys))
                if (keys.All(x => x.Key != k.KeyId)) keys.Add(new(k.KeyId, k.PublicKey.Json));
            var roles = r.Delegations.Select(d => (CjValue)RoleKeysJson(d.Keys, d.Threshold)
                .With("name", Cj.Str(d.Name)).With("terminating", Cj.Bool(d.Terminating))
                .With(d.Paths is not null ? "paths" : "path_hash_prefixes", Cj.Arr((d.Paths ?? d.PathHashPrefixes!).Select(p => (CjValue)Cj.Str(p)))));
            signed = signed.With("delegations", Cj.Obj(("keys", Cj.Obj(keys)), ("roles", Cj.Arr(roles))));
        }
        var bytes = Sign(signed, signers ?? r.Keys);
        r.Published = bytes;
        r.Dirty = false;
        _files[MetadataPath(role, r.Version)] = bytes;
        // Target files are placed at publish time, when the naming scheme is final.
        var parsed = new TargetsMetadata(signed, role);
        foreach (var (path, file) in parsed.Targets)
            if (_targetContent.TryGetValue(path, out var content))
                foreach (var name in TargetFileNames(file)) _files[name] = content;
        return bytes;
    }

    public byte[] PublishSnapshot(IEnumerable<SigningKey>? signers = null)
    {
        var r = Role("snapshot");
        r.Version++;
        var meta = _roles.Where(x => x.Value.Delegator is not null && x.Value.Published is not null)
            .Select(x => new KeyValuePair<string, CjValue>(x.Key + ".json", MetaJson(x.Value.Version, x.Value.Published!, SnapshotPinsHashes)));
        var bytes = Sign(Common("snapshot", r).With("meta", Cj.Obj(meta)), signers ?? r.Keys);
        r.Published = bytes;
        r.Dirty = false;
        _files[MetadataPath("snapshot", r.Version)] = bytes;
        return bytes;
    }

    public byte[] PublishTimestamp(IEnumerable<SigningKey>? signers = null)
    {
        var r = Role("timestamp");
        r.Version++;
        var snap = Role("snapshot");
        var meta = Cj.Obj(("snapshot.json", MetaJson(snap.Version, snap.Published!, TimestampPinsHashes)));
        var bytes = Sign(Common("timestamp", r).With("meta", meta), signers ?? r.Keys);
        r.Published = bytes;
        r.Dirty = false;
        _files["metadata/timestamp.json"] = bytes;
        return bytes;
    }

    /// <summary>Signs the canonical form of <paramref name="signed"/>; returns the envelope as JSON (sorted keys, no whitespace).</summary>
    public static byte[] Sign(CjObject signed, IEnumerable<SigningKey> signers)
    {
        var canonical = signed.ToCanonicalBytes();
        var sigs = signers.Select(k => (CjValue)Cj.Obj(("keyid", Cj.Str(k.KeyId)), ("sig", Cj.Str(k.Sign(canonical)))));
        return Cj.Obj(("signatures", Cj.Arr(sigs)), ("signed", signed)).ToJsonBytes();
    }

    /// <summary>Where the client fetches <paramref name="role"/> version <paramref name="version"/>.</summary>
    public string MetadataPath(string role, long version) =>
        ConsistentSnapshot ? $"metadata/{version}.{TufClient.EscapeSegment(role)}.json" : $"metadata/{TufClient.EscapeSegment(role)}.json";

    /// <summary>Writes <see cref="Files"/> below <paramref name="directory"/>, ready for any static HTTP server.</summary>
    public void WriteToDirectory(string directory)
    {
        foreach (var (urlPath, content) in _files)
        {
            var segments = urlPath.Split('/').Select(s =>
            {
                // Store decoded names so a static server (which decodes URLs) finds them, unless the
                // decoded name could not be a single safe file name.
                var decoded = Uri.UnescapeDataString(s);
                return decoded.Contains('/') || decoded is "." or ".." || decoded.Length == 0 ? s : decoded;
            });
            var path = Path.Combine(directory, Path.Combine(segments.ToArray()));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }
    }

    private IEnumerable<string> TargetFileNames(TargetFile file)
    {
        if (!ConsistentSnapshot)
        {
            yield return "targets/" + TufClient.TargetUrlPath(file, false);
            yield break;
        }
        // One copy per hash so clients preferring either algorithm find it.
        var segments = file.Path.Split('/');
        foreach (var hash in file.Hashes.Values)
        {
            var s = (string[])segments.Clone();
            s[^1] = hash + "." + s[^1];
            yield return "targets/" + string.Join('/', s.Select(TufClient.EscapeSegment));
        }
    }

    private static CjObject RoleKeysJson(IEnumerable<SigningKey> keys, int threshold) =>
        Cj.Obj(("keyids", Cj.Arr(keys.Select(k => (CjValue)Cj.Str(k.KeyId)))), ("threshold", Cj.Int(threshold)));

    private static CjObject MetaJson(long version, byte[] content, bool pinHashes) => pinHashes
        ? Cj.Obj(("version", Cj.Int(version)), ("length", Cj.Int(content.Length)),
            ("hashes", Cj.Obj(("sha256", Cj.Str(Convert.ToHexStringLower(SHA256.HashData(content)))))))
        : Cj.Obj(("version", Cj.Int(version)));

    private CjObject Common(string type, RoleState r)
    {
        var o = Cj.Obj(("_type", Cj.Str(type)), ("spec_version", Cj.Str("1.0.31")), ("version", Cj.Int(r.Version)),
            ("expires", Cj.Str(Fields.FormatExpires(r.Expires))));
        foreach (var (k, v) in r.Extra) o = o.With(k, v);
        return o;
    }

    private RoleState Role(string role) =>
        _roles.GetValueOrDefault(role) ?? throw new TufException(TufFailureKind.Repository, $"The repository has no role '{role}'.");

    private static DateTimeOffset Truncate(DateTimeOffset t) => new(t.UtcDateTime.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

    /// <summary>Content of a target added earlier (for tests and for serving).</summary>
    public byte[] TargetContent(string path) => _targetContent[path];

    internal static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);
}
