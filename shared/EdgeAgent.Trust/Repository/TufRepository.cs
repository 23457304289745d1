using System.Security.Cryptography;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Trust.Repository;

/// <summary>Settings of one delegation made by <see cref="TufRepository.Delegate"/>.</summary>
/// <param name="Keys">The delegated role's keys; their private halves become available for signing it.</param>
public sealed record DelegationSpec(
    string Name,
    IReadOnlyList<SigningKey> Keys,
    int Threshold,
    IReadOnlyList<string>? Paths = null,
    IReadOnlyList<string>? PathHashPrefixes = null,
    bool Terminating = false);

/// <summary>
/// Repository tooling (used by the hub and by tests): keys, roles, thresholds, targets,
/// delegations, snapshot and timestamp, expiry, root rotation. Produces TUF 1.0 metadata whose
/// signatures cover canonical JSON, with consistent snapshots (<c>N.ROLE.json</c>,
/// <c>HASH.NAME</c> targets), kept in <see cref="Files"/> under <c>metadata/</c> and
/// <c>targets/</c> (URL paths, as a client requests them) and writable to a directory servable
/// over plain HTTP. Roles list public keys; private keys are registered separately, so offline
/// keys (root) can stay offline: a role is signed by the registered keys it lists, and publishing
/// fails with a clear message when they cannot reach its threshold.
/// Not thread safe. Does not dispose the signing keys it is given.
/// </summary>
public sealed class TufRepository
{
    private readonly TimeProvider _time;
    private readonly Dictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RoleState> _roles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SigningKey> _signers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _targetContent = new(StringComparer.Ordinal);
    private List<TufKey> _lastRootKeys = [];
    private int _lastRootThreshold = 1;
    private long _rootPublished;

    private sealed class RoleState
    {
        public long Version;
        public DateTimeOffset Expires;
        public List<TufKey> Keys = [];
        public int Threshold = 1;
        public Dictionary<string, CjValue> Extra = new(StringComparer.Ordinal);
        public bool Dirty = true;
        // targets roles only
        public string? Delegator;
        public Dictionary<string, CjObject> Targets = new(StringComparer.Ordinal);
        public List<string> Delegations = []; // child role names, in priority order
        public IReadOnlyList<string>? Paths;
        public IReadOnlyList<string>? PathHashPrefixes;
        public bool Terminating;
        public byte[]? Published;
    }

    /// <summary>A new repository with one fresh ECDSA P-256 key per top-level role.</summary>
    /// <param name="consistentSnapshot">Root's <c>consistent_snapshot</c> (on by default).</param>
    public TufRepository(TimeProvider? time = null, bool consistentSnapshot = true)
        : this(time, consistentSnapshot, createKeys: true)
    {
    }

    private TufRepository(TimeProvider? time, bool consistentSnapshot, bool createKeys)
    {
        _time = time ?? TimeProvider.System;
        ConsistentSnapshot = consistentSnapshot;
        if (!createKeys) return;
        var now = _time.GetUtcNow();
        foreach (var (role, days) in new[] { ("root", 365), ("targets", 90), ("snapshot", 7), ("timestamp", 1) })
        {
            var key = SigningKey.CreateEcdsaP256();
            _signers[key.KeyId] = key;
            _roles[role] = new RoleState { Expires = Truncate(now.AddDays(days)), Keys = [key.PublicKey] };
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

    /// <summary>Files published since this instance was created or loaded, keyed by URL path (e.g. <c>metadata/1.root.json</c>).</summary>
    public IReadOnlyDictionary<string, byte[]> Files => _files;

    /// <summary>The registered signing keys of <paramref name="role"/> (top-level or delegated).</summary>
    public IReadOnlyList<SigningKey> KeysOf(string role) =>
        Role(role).Keys.Select(k => _signers.GetValueOrDefault(k.ContentKeyId)).OfType<SigningKey>().ToList();

    /// <summary>The public keys <paramref name="role"/> lists.</summary>
    public IReadOnlyList<TufKey> PublicKeysOf(string role) => Role(role).Keys;

    public long VersionOf(string role) => Role(role).Version;

    /// <summary>The last published <c>root.json</c> bytes: what a device is initialised with.</summary>
    public byte[] RootBytes => _files[$"metadata/{_rootPublished}.root.json"];

    /// <summary>Makes a private key available for signing (e.g. an offline root key brought online for a ceremony).</summary>
    public void AddSigner(SigningKey key) => _signers[key.KeyId] = key;

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

    /// <summary>Lists <paramref name="key"/> for <paramref name="role"/> and registers it for signing.</summary>
    public void AddKey(string role, SigningKey key)
    {
        AddSigner(key);
        AddPublicKey(role, key.PublicKey);
    }

    /// <summary>Lists a public key (whose private half is held elsewhere) for <paramref name="role"/>.</summary>
    public void AddPublicKey(string role, TufKey key)
    {
        var r = Role(role);
        if (r.Keys.Any(k => k.ContentKeyId == key.ContentKeyId)) return;
        r.Keys.Add(key);
        MarkKeysChanged(role);
    }

    public void RemoveKey(string role, string keyId)
    {
        if (Role(role).Keys.RemoveAll(k => k.ContentKeyId == keyId) == 0)
            throw new TufException(TufFailureKind.Repository, $"Role '{role}' has no key {keyId}.");
        MarkKeysChanged(role);
    }

    /// <summary>Replaces all keys of <paramref name="role"/> with one new ECDSA key (a rotation).</summary>
    public SigningKey RotateKeys(string role)
    {
        var key = SigningKey.CreateEcdsaP256();
        AddSigner(key);
        Role(role).Keys.Clear();
        Role(role).Keys.Add(key.PublicKey);
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
    }

    /// <summary>Adds or replaces a target in <paramref name="role"/> with its length, sha256 (and sha512 if enabled) and custom metadata.</summary>
    public TargetFile AddTarget(string path, byte[] content, CjValue? custom = null, string role = "targets")
    {
        var r = TargetsRole(role);
        var hashes = new List<KeyValuePair<string, CjValue>> { new("sha256", Cj.Str(Convert.ToHexStringLower(SHA256.HashData(content)))) };
        if (AddSha512) hashes.Add(new("sha512", Cj.Str(Convert.ToHexStringLower(SHA512.HashData(content)))));
        var entry = Cj.Obj(("length", Cj.Int(content.Length)), ("hashes", Cj.Obj(hashes)), ("custom", custom));
        r.Targets[path] = entry;
        r.Dirty = true;
        _targetContent[path] = content;
        return ParseTargetEntry(path, entry);
    }

    /// <summary>Replaces the raw entry of a target (any JSON; for adversarial tests and foreign tooling).</summary>
    public void SetTargetEntry(string path, CjObject entry, string role = "targets")
    {
        TargetsRole(role).Targets[path] = entry;
        TargetsRole(role).Dirty = true;
    }

    public void RemoveTarget(string path, string role = "targets")
    {
        TargetsRole(role).Targets.Remove(path);
        TargetsRole(role).Dirty = true;
    }

    /// <summary>The targets <paramref name="role"/> lists, as signed.</summary>
    public IReadOnlyList<TargetFile> TargetsOf(string role = "targets") =>
        TargetsRole(role).Targets.Select(t => ParseTargetEntry(t.Key, t.Value)).ToList();

    /// <summary>Delegates from <paramref name="delegator"/> to a new targets role (appended: lowest priority so far).</summary>
    public void Delegate(string delegator, DelegationSpec spec)
    {
        var d = TargetsRole(delegator);
        if (_roles.ContainsKey(spec.Name) || RootMetadata.TopLevelRoles.Contains(spec.Name))
            throw new TufException(TufFailureKind.Repository, $"Role '{spec.Name}' already exists.");
        if ((spec.Paths is null) == (spec.PathHashPrefixes is null))
            throw new TufException(TufFailureKind.Repository, "A delegation needs exactly one of paths or path hash prefixes.");
        foreach (var k in spec.Keys) AddSigner(k);
        d.Delegations.Add(spec.Name);
        d.Dirty = true;
        _roles[spec.Name] = new RoleState
        {
            Expires = d.Expires,
            Keys = spec.Keys.Select(k => k.PublicKey).ToList(),
            Threshold = spec.Threshold,
            Delegator = delegator,
            Paths = spec.Paths,
            PathHashPrefixes = spec.PathHashPrefixes,
            Terminating = spec.Terminating,
        };
    }

    /// <summary>
    /// Publishes everything that changed: root (if its keys or fields changed), dirty targets
    /// roles, then a new snapshot and timestamp. Re-run it to refresh expiring metadata.
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
    /// Publishes the next root version, signed by the registered keys of the previous root and of
    /// the new one; both thresholds must be reachable (TUF §5.3.4/§5.3.5). <paramref name="signers"/>
    /// overrides the choice (ceremonies with external signers, tests).
    /// </summary>
    public byte[] PublishRoot(IEnumerable<SigningKey>? signers = null, long? version = null)
    {
        var r = Role("root");
        var nextVersion = version ?? r.Version + 1;
        var keys = new List<KeyValuePair<string, CjValue>>();
        var roles = new List<KeyValuePair<string, CjValue>>();
        foreach (var role in RootMetadata.TopLevelRoles)
        {
            var s = Role(role);
            foreach (var k in s.Keys)
                if (keys.All(x => x.Key != k.ContentKeyId)) keys.Add(new(k.ContentKeyId, k.Json));
            roles.Add(new(role, RoleKeysJson(s.Keys, s.Threshold)));
        }
        var signed = Common("root", r, nextVersion).With("consistent_snapshot", Cj.Bool(ConsistentSnapshot))
            .With("keys", Cj.Obj(keys)).With("roles", Cj.Obj(roles));
        List<SigningKey> chosen;
        if (signers is not null) chosen = signers.ToList();
        else
        {
            chosen = Available(_lastRootKeys.Concat(r.Keys));
            if (_rootPublished > 0) RequireThreshold("root (previous keys)", _lastRootKeys, _lastRootThreshold, chosen);
            RequireThreshold("root", r.Keys, r.Threshold, chosen);
        }
        var bytes = Sign(signed, chosen);
        r.Version = nextVersion;
        _files[$"metadata/{r.Version}.root.json"] = bytes;
        _rootPublished = r.Version;
        _lastRootKeys = r.Keys.ToList();
        _lastRootThreshold = r.Threshold;
        r.Dirty = false;
        return bytes;
    }

    public byte[] PublishTargets(string role, IEnumerable<SigningKey>? signers = null)
    {
        var r = TargetsRole(role);
        var version = r.Version + 1;
        var signed = Common("targets", r, version).With("targets", Cj.Obj(r.Targets.Select(t => new KeyValuePair<string, CjValue>(t.Key, t.Value))));
        if (r.Delegations.Count > 0)
        {
            var keys = new List<KeyValuePair<string, CjValue>>();
            var roles = new List<CjValue>();
            foreach (var child in r.Delegations.Select(name => (Name: name, State: Role(name))))
            {
                foreach (var k in child.State.Keys)
                    if (keys.All(x => x.Key != k.ContentKeyId)) keys.Add(new(k.ContentKeyId, k.Json));
                roles.Add(RoleKeysJson(child.State.Keys, child.State.Threshold)
                    .With("name", Cj.Str(child.Name)).With("terminating", Cj.Bool(child.State.Terminating))
                    .With(child.State.Paths is not null ? "paths" : "path_hash_prefixes",
                        Cj.Arr((child.State.Paths ?? child.State.PathHashPrefixes!).Select(p => (CjValue)Cj.Str(p)))));
            }
            signed = signed.With("delegations", Cj.Obj(("keys", Cj.Obj(keys)), ("roles", Cj.Arr(roles))));
        }
        var bytes = Sign(signed, signers?.ToList() ?? SignersFor(role, r));
        r.Version = version;
        r.Published = bytes;
        r.Dirty = false;
        _files[MetadataPath(role, r.Version)] = bytes;
        // Target files are placed at publish time, when the naming scheme is final.
        foreach (var (path, entry) in r.Targets)
            if (_targetContent.TryGetValue(path, out var content))
                foreach (var name in TargetFileNames(ParseTargetEntry(path, entry))) _files[name] = content;
        return bytes;
    }

    public byte[] PublishSnapshot(IEnumerable<SigningKey>? signers = null)
    {
        var r = Role("snapshot");
        var version = r.Version + 1;
        var meta = _roles.Where(x => x.Value.Delegator is not null && x.Value.Published is not null)
            .Select(x => new KeyValuePair<string, CjValue>(x.Key + ".json", MetaJson(x.Value.Version, x.Value.Published!, SnapshotPinsHashes)));
        var bytes = Sign(Common("snapshot", r, version).With("meta", Cj.Obj(meta)), signers?.ToList() ?? SignersFor("snapshot", r));
        r.Version = version;
        r.Published = bytes;
        r.Dirty = false;
        _files[MetadataPath("snapshot", r.Version)] = bytes;
        return bytes;
    }

    public byte[] PublishTimestamp(IEnumerable<SigningKey>? signers = null)
    {
        var r = Role("timestamp");
        var version = r.Version + 1;
        var snap = Role("snapshot");
        if (snap.Published is null) throw new TufException(TufFailureKind.Repository, "Publish a snapshot before the timestamp.");
        var meta = Cj.Obj(("snapshot.json", MetaJson(snap.Version, snap.Published, TimestampPinsHashes)));
        var bytes = Sign(Common("timestamp", r, version).With("meta", meta), signers?.ToList() ?? SignersFor("timestamp", r));
        r.Version = version;
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

    /// <summary>
    /// Writes <see cref="Files"/> below <paramref name="directory"/>, ready for any static HTTP
    /// server. With consistent snapshots nothing already published is overwritten except
    /// <c>timestamp.json</c>, so clients mid-update keep finding the versions they were pinned to.
    /// </summary>
    public void WriteToDirectory(string directory)
    {
        foreach (var (urlPath, content) in _files)
        {
            var path = Path.Combine(directory, Path.Combine(urlPath.Split('/').Select(DiskName).ToArray()));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }
    }

    /// <summary>
    /// Reopens a repository written by <see cref="WriteToDirectory"/> (consistent snapshots): the
    /// newest root, timestamp, snapshot and every targets role it lists, with their versions,
    /// expiry, keys, thresholds, delegations, targets and unknown fields. <paramref name="signers"/>
    /// are the private keys available to this process; roles whose keys are missing can be read
    /// but not re-signed. Target contents are not reloaded (their files are already published).
    /// </summary>
    /// <exception cref="TufException">The directory does not hold a complete repository.</exception>
    public static TufRepository Load(string directory, IEnumerable<SigningKey> signers, TimeProvider? time = null)
    {
        var meta = Path.Combine(directory, "metadata");
        var rootVersion = Directory.Exists(meta)
            ? Directory.EnumerateFiles(meta, "*.root.json").Select(f => long.TryParse(Path.GetFileName(f).Split('.')[0], out var v) ? v : 0).DefaultIfEmpty(0).Max()
            : 0;
        if (rootVersion == 0) throw new TufException(TufFailureKind.Repository, $"'{meta}' holds no N.root.json; not a repository written by this tool.");
        return Load(name =>
        {
            var path = Path.Combine(meta, DiskName(name));
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }, rootVersion, signers, time);
    }

    /// <summary>
    /// Reopens a published repository (consistent snapshots) from any store of its metadata files
    /// (e.g. database rows): <paramref name="readMetadata"/> returns the bytes of a metadata file
    /// by its URL name (<c>7.root.json</c>, <c>timestamp.json</c>, <c>12.snapshot.json</c>,
    /// <c>3.assignments.json</c>) or null when it does not exist. Same contract as the directory
    /// overload otherwise.
    /// </summary>
    /// <param name="rootVersion">The newest root version the store holds.</param>
    /// <exception cref="TufException">The store does not hold a complete repository.</exception>
    public static TufRepository Load(Func<string, byte[]?> readMetadata, long rootVersion, IEnumerable<SigningKey> signers, TimeProvider? time = null)
    {
        byte[] Read(string name) => readMetadata(name)
            ?? throw new TufException(TufFailureKind.Repository, $"The repository has no metadata file '{name}'; it is incomplete.");
        var repo = new TufRepository(time, consistentSnapshot: true, createKeys: false);
        foreach (var s in signers) repo.AddSigner(s);
        var rootBytes = Read($"{rootVersion}.root.json");
        var root = SignedMetadata<RootMetadata>.Parse(rootBytes, static (j, w) => new RootMetadata(j, w), $"{rootVersion}.root.json").Signed;
        repo.ConsistentSnapshot = root.ConsistentSnapshot;
        if (!root.ConsistentSnapshot) throw new TufException(TufFailureKind.Repository, "Only repositories with consistent snapshots can be reloaded.");
        foreach (var role in RootMetadata.TopLevelRoles)
        {
            var rk = root.Roles[role];
            repo._roles[role] = new RoleState
            {
                Keys = rk.KeyIds.Select(id => root.Keys[id]).ToList(),
                Threshold = rk.Threshold,
                Dirty = false,
                Delegator = role == "targets" ? "root" : null,
            };
        }
        repo.LoadCommon("root", root, rootBytes, RoleExtraFields(root.Json, "consistent_snapshot", "keys", "roles"));
        repo._rootPublished = rootVersion;
        repo._lastRootKeys = repo._roles["root"].Keys.ToList();
        repo._lastRootThreshold = root.Roles["root"].Threshold;
        repo._files[$"metadata/{rootVersion}.root.json"] = rootBytes;

        var tsBytes = Read("timestamp.json");
        var ts = SignedMetadata<TimestampMetadata>.Parse(tsBytes, static (j, w) => new TimestampMetadata(j, w), "timestamp.json").Signed;
        repo.LoadCommon("timestamp", ts, tsBytes, RoleExtraFields(ts.Json, "meta"));
        var snapBytes = Read($"{ts.SnapshotMeta.Version}.snapshot.json");
        var snap = SignedMetadata<SnapshotMetadata>.Parse(snapBytes, static (j, w) => new SnapshotMetadata(j, w), "snapshot.json").Signed;
        repo.LoadCommon("snapshot", snap, snapBytes, RoleExtraFields(snap.Json, "meta"));

        // Targets roles, parents before children (the delegation tree from "targets").
        var queue = new Queue<string>(["targets"]);
        while (queue.Count > 0)
        {
            var role = queue.Dequeue();
            var pin = snap.Meta.GetValueOrDefault(role + ".json")
                      ?? throw new TufException(TufFailureKind.Repository, $"snapshot.json does not list '{role}.json'.");
            var bytes = Read($"{pin.Version}.{TufClient.EscapeSegment(role)}.json");
            var targets = SignedMetadata<TargetsMetadata>.Parse(bytes, static (j, w) => new TargetsMetadata(j, w), role).Signed;
            var state = repo._roles[role];
            repo.LoadCommon(role, targets, bytes, RoleExtraFields(targets.Json, "targets", "delegations"));
            foreach (var (path, file) in targets.Targets) state.Targets[path] = file.Json;
            foreach (var d in targets.Delegations?.Roles ?? [])
            {
                state.Delegations.Add(d.Name);
                repo._roles[d.Name] = new RoleState
                {
                    Keys = d.Keys.KeyIds.Select(id => targets.Delegations!.Keys[id]).ToList(),
                    Threshold = d.Keys.Threshold,
                    Delegator = role,
                    Paths = d.Paths,
                    PathHashPrefixes = d.PathHashPrefixes,
                    Terminating = d.Terminating,
                    Dirty = false,
                };
                queue.Enqueue(d.Name);
            }
        }
        return repo;
    }

    /// <summary>
    /// Starts a repository from a root signed elsewhere (an offline key ceremony): its keys,
    /// thresholds and version are taken as published; nothing else is published yet, so the caller
    /// sets expiry dates, adds targets and delegations and publishes targets, snapshot and timestamp
    /// with the online keys in <paramref name="signers"/>. The root itself cannot be re-signed
    /// unless its private keys are registered too.
    /// </summary>
    /// <exception cref="TufException">The root is malformed, not self-signed to its threshold, or lacks consistent snapshots.</exception>
    public static TufRepository FromRoot(byte[] rootBytes, IEnumerable<SigningKey> signers, TimeProvider? time = null)
    {
        var parsed = SignedMetadata<RootMetadata>.Parse(rootBytes, static (j, w) => new RootMetadata(j, w), "root.json");
        SignatureVerifier.RequireThreshold(parsed, parsed.Signed.Roles["root"], parsed.Signed.Keys, "root.json", "the root itself");
        var root = parsed.Signed;
        if (!root.ConsistentSnapshot) throw new TufException(TufFailureKind.Repository, "root.json does not enable consistent snapshots; this repository tooling needs them.");
        var repo = new TufRepository(time, consistentSnapshot: true, createKeys: false);
        foreach (var s in signers) repo.AddSigner(s);
        var now = Truncate(repo._time.GetUtcNow());
        foreach (var role in RootMetadata.TopLevelRoles)
        {
            var rk = root.Roles[role];
            repo._roles[role] = new RoleState
            {
                Keys = rk.KeyIds.Select(id => root.Keys[id]).ToList(),
                Threshold = rk.Threshold,
                Dirty = role != "root",
                Expires = now,
                Delegator = role == "targets" ? "root" : null,
            };
        }
        repo.LoadCommon("root", root, rootBytes, RoleExtraFields(root.Json, "consistent_snapshot", "keys", "roles"));
        repo._rootPublished = root.Version;
        repo._lastRootKeys = repo._roles["root"].Keys.ToList();
        repo._lastRootThreshold = root.Roles["root"].Threshold;
        repo._files[$"metadata/{root.Version}.root.json"] = rootBytes;
        return repo;
    }

    /// <summary>
    /// Adopts the next root signed elsewhere (an offline rotation ceremony): it must be exactly the
    /// next version and carry a threshold of signatures from both the current root's keys and its
    /// own (TUF §5.3.4/§5.3.5), as a client will check. The top-level roles take the keys and
    /// thresholds it lists; roles whose keys changed are marked for re-signing.
    /// </summary>
    /// <exception cref="TufException">The root is not the next version or not signed as required.</exception>
    public void ImportRoot(byte[] rootBytes)
    {
        var parsed = SignedMetadata<RootMetadata>.Parse(rootBytes, static (j, w) => new RootMetadata(j, w), "new root.json");
        var current = SignedMetadata<RootMetadata>.Parse(RootBytes, static (j, w) => new RootMetadata(j, w), "current root.json");
        var root = parsed.Signed;
        if (root.Version != _rootPublished + 1)
            throw new TufException(TufFailureKind.Repository, $"root.json v{root.Version} cannot follow v{_rootPublished}; roots are adopted one version at a time.");
        SignatureVerifier.RequireThreshold(parsed, current.Signed.Roles["root"], current.Signed.Keys, $"root.json v{root.Version}", $"the previous root v{_rootPublished}");
        SignatureVerifier.RequireThreshold(parsed, root.Roles["root"], root.Keys, $"root.json v{root.Version}", "the new root itself");
        if (!root.ConsistentSnapshot) throw new TufException(TufFailureKind.Repository, "the new root.json does not enable consistent snapshots.");
        foreach (var role in RootMetadata.TopLevelRoles)
        {
            var r = _roles[role];
            var keys = root.Roles[role].KeyIds.Select(id => root.Keys[id]).ToList();
            if (!keys.Select(k => k.ContentKeyId).SequenceEqual(r.Keys.Select(k => k.ContentKeyId)) || r.Threshold != root.Roles[role].Threshold)
                r.Dirty = true;
            r.Keys = keys;
            r.Threshold = root.Roles[role].Threshold;
        }
        LoadCommon("root", root, rootBytes, RoleExtraFields(root.Json, "consistent_snapshot", "keys", "roles"));
        _rootPublished = root.Version;
        _lastRootKeys = _roles["root"].Keys.ToList();
        _lastRootThreshold = root.Roles["root"].Threshold;
        _files[$"metadata/{root.Version}.root.json"] = rootBytes;
    }

    /// <summary>When <paramref name="role"/>'s current (or next) version expires.</summary>
    public DateTimeOffset ExpiresOf(string role) => Role(role).Expires;

    /// <summary>The delegated targets roles, in no particular order.</summary>
    public IReadOnlyList<string> DelegatedRoles => _roles.Where(r => r.Value.Delegator is not null && r.Value.Delegator != "root").Select(r => r.Key).ToList();

    private void LoadCommon(string role, RoleMetadata signed, byte[] bytes, Dictionary<string, CjValue> extra)
    {
        var r = _roles[role];
        r.Version = signed.Version;
        r.Expires = signed.Expires;
        r.Extra = extra;
        r.Published = bytes;
        r.Dirty = false;
    }

    private static Dictionary<string, CjValue> RoleExtraFields(CjObject signed, params string[] roleFields)
    {
        string[] common = ["_type", "spec_version", "version", "expires"];
        return signed.Members.Where(m => !common.Contains(m.Key) && !roleFields.Contains(m.Key))
            .ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
    }

    /// <summary>The on-disk name of one URL path segment: decoded, unless that would not be one safe file name.</summary>
    private static string DiskName(string segment)
    {
        var decoded = Uri.UnescapeDataString(segment);
        return decoded.Contains('/') || decoded is "." or ".." || decoded.Length == 0 ? segment : decoded;
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

    private List<SigningKey> Available(IEnumerable<TufKey> keys) =>
        keys.Select(k => _signers.GetValueOrDefault(k.ContentKeyId)).OfType<SigningKey>().DistinctBy(k => k.KeyId).ToList();

    private List<SigningKey> SignersFor(string role, RoleState r)
    {
        var chosen = Available(r.Keys);
        RequireThreshold(role, r.Keys, r.Threshold, chosen);
        return chosen;
    }

    private static void RequireThreshold(string role, IReadOnlyList<TufKey> keys, int threshold, IReadOnlyList<SigningKey> chosen)
    {
        var usable = chosen.Count(s => keys.Any(k => k.ContentKeyId == s.KeyId));
        if (usable < threshold)
            throw new TufException(TufFailureKind.Repository,
                $"Cannot sign {role}: it needs {threshold} signature(s) but only {usable} of its private keys are registered (AddSigner).");
    }

    private static TargetFile ParseTargetEntry(string path, CjObject entry) =>
        new TargetsMetadata(Cj.Obj(("_type", Cj.Str("targets")), ("spec_version", Cj.Str(SpecVersion)), ("version", Cj.Int(1)),
            ("expires", Cj.Str("2100-01-01T00:00:00Z")), ("targets", Cj.Obj((path, entry)))), $"target '{path}'").Targets[path];

    private const string SpecVersion = "1.0.31";

    private static CjObject RoleKeysJson(IEnumerable<TufKey> keys, int threshold) =>
        Cj.Obj(("keyids", Cj.Arr(keys.Select(k => (CjValue)Cj.Str(k.ContentKeyId)))), ("threshold", Cj.Int(threshold)));

    private static CjObject MetaJson(long version, byte[] content, bool pinHashes) => pinHashes
        ? Cj.Obj(("version", Cj.Int(version)), ("length", Cj.Int(content.Length)),
            ("hashes", Cj.Obj(("sha256", Cj.Str(Convert.ToHexStringLower(SHA256.HashData(content)))))))
        : Cj.Obj(("version", Cj.Int(version)));

    private static CjObject Common(string type, RoleState r, long version)
    {
        var o = Cj.Obj(("_type", Cj.Str(type)), ("spec_version", Cj.Str(SpecVersion)), ("version", Cj.Int(version)),
            ("expires", Cj.Str(Fields.FormatExpires(r.Expires))));
        foreach (var (k, v) in r.Extra) o = o.With(k, v);
        return o;
    }

    private RoleState Role(string role) =>
        _roles.GetValueOrDefault(role) ?? throw new TufException(TufFailureKind.Repository, $"The repository has no role '{role}'.");

    private RoleState TargetsRole(string role)
    {
        var r = Role(role);
        return r.Delegator is null ? throw new TufException(TufFailureKind.Repository, $"'{role}' is not a targets role.") : r;
    }

    private static DateTimeOffset Truncate(DateTimeOffset t) => new(t.UtcDateTime.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

    /// <summary>Content of a target added through this instance.</summary>
    public byte[] TargetContent(string path) => _targetContent[path];
}
