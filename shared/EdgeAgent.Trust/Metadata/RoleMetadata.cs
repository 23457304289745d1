using EdgeAgent.Trust.Json;

namespace EdgeAgent.Trust.Metadata;

/// <summary>Fields common to the <c>signed</c> part of every role (TUF §4.2). Immutable.</summary>
public abstract class RoleMetadata
{
    /// <summary>The major specification version this client implements (TUF §4.2 <c>spec_version</c>).</summary>
    public const int SupportedSpecMajor = 1;

    private protected RoleMetadata(CjObject json, string expectedType, string what)
    {
        Json = json;
        Type = Fields.String(json, "_type", what);
        if (Type != expectedType)
            throw Fields.Bad(what, $"'_type' is '{Type}' but {expectedType} metadata was expected (a file of another role was served in its place).");
        SpecVersion = Fields.String(json, "spec_version", what);
        var major = SpecVersion.Split('.')[0];
        if (!int.TryParse(major, out var m) || m != SupportedSpecMajor || SpecVersion.Split('.').Length < 2)
            throw Fields.Bad(what, $"spec_version '{SpecVersion}' is not a TUF {SupportedSpecMajor}.x version this client understands.");
        Version = Fields.Integer(json, "version", what);
        if (Version < 1) throw Fields.Bad(what, $"'version' must be >= 1, got {Version}.");
        Expires = Fields.Expires(json, what);
    }

    /// <summary>The whole <c>signed</c> object, unknown fields included (they are signed too).</summary>
    public CjObject Json { get; }
    public string Type { get; }
    public string SpecVersion { get; }
    public long Version { get; }
    public DateTimeOffset Expires { get; }

    /// <summary>True when <paramref name="referenceTime"/> is at or past <see cref="Expires"/> (python-tuf: expires &lt;= now).</summary>
    public bool IsExpired(DateTimeOffset referenceTime) => Expires <= referenceTime;
}

/// <summary>The keys and threshold of one role (TUF §4.3 <c>roles</c>).</summary>
public sealed record RoleKeys(IReadOnlyList<string> KeyIds, int Threshold)
{
    internal static RoleKeys Parse(CjObject o, string what)
    {
        var keyIds = Fields.StringArray(o, "keyids", what);
        if (keyIds.Distinct(StringComparer.Ordinal).Count() != keyIds.Count)
            throw Fields.Bad(what, "'keyids' lists the same key id twice.");
        var threshold = Fields.Integer(o, "threshold", what);
        if (threshold < 1 || threshold > int.MaxValue) throw Fields.Bad(what, $"'threshold' must be >= 1, got {threshold}.");
        return new RoleKeys(keyIds, (int)threshold);
    }

    public bool SameKeysAs(RoleKeys other) =>
        Threshold == other.Threshold && KeyIds.ToHashSet(StringComparer.Ordinal).SetEquals(other.KeyIds);
}

/// <summary>root.json (TUF §4.3).</summary>
public sealed class RootMetadata : RoleMetadata
{
    public static readonly string[] TopLevelRoles = ["root", "timestamp", "snapshot", "targets"];

    public RootMetadata(CjObject json, string what) : base(json, "root", what)
    {
        ConsistentSnapshot = Fields.OptionalBool(json, "consistent_snapshot", what) ?? false;
        var keys = new Dictionary<string, TufKey>(StringComparer.Ordinal);
        foreach (var (id, k) in Fields.Object(json, "keys", what).Members)
            keys[id] = TufKey.FromJson(Fields.Object(k, what, "keys." + id), $"{what} key {id}");
        Keys = keys;
        var roles = new Dictionary<string, RoleKeys>(StringComparer.Ordinal);
        foreach (var (name, r) in Fields.Object(json, "roles", what).Members)
            roles[name] = RoleKeys.Parse(Fields.Object(r, what, "roles." + name), $"{what} role {name}");
        foreach (var required in TopLevelRoles)
            if (!roles.ContainsKey(required)) throw Fields.Bad(what, $"'roles' has no entry for '{required}'.");
        Roles = roles;
    }

    public bool ConsistentSnapshot { get; }
    public IReadOnlyDictionary<string, TufKey> Keys { get; }
    public IReadOnlyDictionary<string, RoleKeys> Roles { get; }
}

/// <summary>Version/length/hashes of a metadata file pinned by its parent (TUF §4.4 METAFILES).</summary>
public sealed record MetaFile(long Version, long? Length, IReadOnlyDictionary<string, string>? Hashes)
{
    internal static MetaFile Parse(CjObject o, string what)
    {
        var version = Fields.Integer(o, "version", what);
        if (version < 1) throw Fields.Bad(what, "'version' must be >= 1.");
        var length = Fields.OptionalInteger(o, "length", what);
        if (length is < 0) throw Fields.Bad(what, "'length' must not be negative.");
        var hashes = o["hashes"] is null ? null : Fields.Hashes(o, "hashes", what);
        return new MetaFile(version, length, hashes);
    }

    /// <summary>Checks length and hashes when the parent pinned them (TUF §5.5.2, §5.6.2).</summary>
    public void VerifyLengthAndHashes(ReadOnlySpan<byte> data, string what)
    {
        if (Length is { } len && data.Length != len)
            throw new TufException(TufFailureKind.LengthOrHash, $"{what} is {data.Length} bytes but its parent role pins {len} bytes.");
        if (Hashes is not null) HashCheck.Verify(data, Hashes, what);
    }
}

/// <summary>timestamp.json (TUF §4.6).</summary>
public sealed class TimestampMetadata : RoleMetadata
{
    public TimestampMetadata(CjObject json, string what) : base(json, "timestamp", what)
    {
        var meta = Fields.Object(json, "meta", what);
        if (meta.Count != 1 || meta["snapshot.json"] is not CjObject snap)
            throw Fields.Bad(what, "'meta' must hold exactly one entry, 'snapshot.json'.");
        SnapshotMeta = MetaFile.Parse(snap, what + " meta snapshot.json");
    }

    public MetaFile SnapshotMeta { get; }
}

/// <summary>snapshot.json (TUF §4.4).</summary>
public sealed class SnapshotMetadata : RoleMetadata
{
    public SnapshotMetadata(CjObject json, string what) : base(json, "snapshot", what)
    {
        var meta = new Dictionary<string, MetaFile>(StringComparer.Ordinal);
        foreach (var (name, m) in Fields.Object(json, "meta", what).Members)
            meta[name] = MetaFile.Parse(Fields.Object(m, what, "meta." + name), $"{what} meta {name}");
        Meta = meta;
    }

    /// <summary>Keyed by <c>ROLE.json</c> (role name unquoted).</summary>
    public IReadOnlyDictionary<string, MetaFile> Meta { get; }
}
