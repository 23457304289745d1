using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Client;

/// <summary>
/// The in-memory chain of trusted metadata for one update cycle, and every check of the TUF
/// client workflow (TUF §5.3–§5.6) in the order the specification gives them. It never touches
/// the network or disk; <see cref="TufClient"/> feeds it bytes and persists what it accepts.
/// All expiry checks use one reference time fixed at construction (TUF §5.1).
/// Besides the previously trusted files it also enforces the <see cref="TrustState"/> floors, so
/// a deleted or replaced local file cannot lower any version. Not thread safe.
/// </summary>
public sealed class TrustedMetadataSet
{
    private readonly Dictionary<string, SignedMetadata<TargetsMetadata>> _targets = new(StringComparer.Ordinal);

    /// <param name="trustedRoot">Bytes of the locally trusted root.json.</param>
    /// <param name="state">Highest versions seen so far.</param>
    /// <param name="referenceTime">The update's fixed start time (already max(clock, floor)).</param>
    public TrustedMetadataSet(byte[] trustedRoot, TrustState state, DateTimeOffset referenceTime)
    {
        ReferenceTime = referenceTime;
        State = state;
        var root = Parse(trustedRoot, static (j, w) => new RootMetadata(j, w), "local root.json");
        // The local root is the trust anchor; still require its own threshold so a damaged file
        // is noticed here rather than as a confusing failure later.
        SignatureVerifier.RequireThreshold(root, root.Signed.Roles["root"], root.Signed.Keys, "local root.json", "the root itself");
        if (root.Signed.Version < state.RootVersion)
            throw new TufException(TufFailureKind.State,
                $"Local root.json is version {root.Signed.Version} but version {state.RootVersion} was already trusted: the file was replaced with an older one. {TrustState.RecoveryHint}");
        Root = root;
    }

    public DateTimeOffset ReferenceTime { get; }
    public TrustState State { get; }
    public SignedMetadata<RootMetadata> Root { get; private set; }
    public SignedMetadata<TimestampMetadata>? Timestamp { get; private set; }
    public SignedMetadata<SnapshotMetadata>? Snapshot { get; private set; }
    public IReadOnlyDictionary<string, SignedMetadata<TargetsMetadata>> Targets => _targets;

    /// <summary>
    /// TUF §5.3.4–§5.3.7: accepts root N+1 when signed by a threshold of root N's keys and of its
    /// own keys, with version exactly N+1. Expiry is checked later, on the final root (§5.3.10).
    /// </summary>
    /// <returns>True when the timestamp or snapshot keys changed (§5.3.11: drop those files).</returns>
    public bool UpdateRoot(byte[] data)
    {
        if (Timestamp is not null) throw new InvalidOperationException("Root cannot be updated after timestamp.");
        var expected = Root.Signed.Version + 1;
        var what = $"root.json version {expected}";
        var next = Parse(data, static (j, w) => new RootMetadata(j, w), what);
        SignatureVerifier.RequireThreshold(next, Root.Signed.Roles["root"], Root.Signed.Keys, what, $"the trusted root version {Root.Signed.Version}");
        if (next.Signed.Version != expected)
            throw new TufException(TufFailureKind.Version, $"{what}: the file claims version {next.Signed.Version}; root updates must go one version at a time (expected {expected}).");
        SignatureVerifier.RequireThreshold(next, next.Signed.Roles["root"], next.Signed.Keys, what, "the new root itself");
        var rotated = !Root.Signed.Roles["timestamp"].SameKeysAs(next.Signed.Roles["timestamp"])
                      || !Root.Signed.Roles["snapshot"].SameKeysAs(next.Signed.Roles["snapshot"]);
        Root = next;
        return rotated;
    }

    /// <summary>TUF §5.3.10: the final root must not be expired.</summary>
    public void CheckFinalRoot()
    {
        if (Root.Signed.IsExpired(ReferenceTime))
            throw Expired("root.json", Root.Signed.Version, Root.Signed.Expires);
    }

    /// <summary>
    /// Adopts a locally stored timestamp as the comparison base for rollback checks when the
    /// current root's timestamp keys signed it (expired is fine: it is only a reference).
    /// Returns why it was not adopted, or null.
    /// </summary>
    public string? TryLoadLocalTimestamp(byte[] data)
    {
        try
        {
            var ts = Parse(data, static (j, w) => new TimestampMetadata(j, w), "local timestamp.json");
            SignatureVerifier.RequireThreshold(ts, Root.Signed.Roles["timestamp"], Root.Signed.Keys, "local timestamp.json", $"root version {Root.Signed.Version}");
            Timestamp = ts;
            return null;
        }
        catch (TufException e)
        {
            return e.Message;
        }
    }

    /// <summary>TUF §5.4: verifies a new timestamp against root, the trusted timestamp and the state floors.</summary>
    /// <returns>False when the new timestamp is the trusted one again (same version, same content).</returns>
    public bool UpdateTimestamp(byte[] data)
    {
        if (Snapshot is not null) throw new InvalidOperationException("Timestamp cannot be updated after snapshot.");
        CheckFinalRoot();
        const string what = "timestamp.json";
        var ts = Parse(data, static (j, w) => new TimestampMetadata(j, w), what);
        SignatureVerifier.RequireThreshold(ts, Root.Signed.Roles["timestamp"], Root.Signed.Keys, what, $"root version {Root.Signed.Version}");

        var trustedVersion = Math.Max(Timestamp?.Signed.Version ?? 0, State.TimestampVersion);
        if (ts.Signed.Version < trustedVersion)
            throw Rollback(what, ts.Signed.Version, trustedVersion);
        if (Timestamp is not null && ts.Signed.Version == Timestamp.Signed.Version)
        {
            // §5.4.3: equal version means "nothing new". Identical content is normal; different
            // content under the same version is equivocation by someone holding the timestamp key.
            if (ts.CanonicalSigned.AsSpan().SequenceEqual(Timestamp.CanonicalSigned)) return false;
            throw new TufException(TufFailureKind.Version,
                $"{what}: version {ts.Signed.Version} was served with different content than the trusted copy of the same version; keeping the trusted one. The timestamp key may be compromised.");
        }
        var snapshotFloor = Math.Max(Timestamp?.Signed.SnapshotMeta.Version ?? 0, State.SnapshotVersion);
        if (ts.Signed.SnapshotMeta.Version < snapshotFloor)
            throw new TufException(TufFailureKind.Version,
                $"{what}: it lists snapshot version {ts.Signed.SnapshotMeta.Version}, lower than the already trusted snapshot version {snapshotFloor} (rollback attack).");
        if (ts.Signed.IsExpired(ReferenceTime)) throw Expired(what, ts.Signed.Version, ts.Signed.Expires);
        Timestamp = ts;
        return true;
    }

    /// <summary>TUF §5.5: verifies snapshot against timestamp's pin, root's keys, the trusted snapshot and the state.</summary>
    /// <param name="fromLocalCache">True for the locally stored copy: its hashes are not rechecked
    /// (it was checked when it was stored), but it must still be signed, current and unexpired.</param>
    public void UpdateSnapshot(byte[] data, bool fromLocalCache)
    {
        if (Timestamp is null) throw new InvalidOperationException("Snapshot needs a trusted timestamp first.");
        if (_targets.Count > 0) throw new InvalidOperationException("Snapshot cannot be updated after targets.");
        CheckFinalTimestamp();
        var what = fromLocalCache ? "local snapshot.json" : $"snapshot.json version {Timestamp.Signed.SnapshotMeta.Version}";
        var pin = Timestamp.Signed.SnapshotMeta;
        if (!fromLocalCache) pin.VerifyLengthAndHashes(data, what);
        var snap = Parse(data, static (j, w) => new SnapshotMetadata(j, w), what);
        SignatureVerifier.RequireThreshold(snap, Root.Signed.Roles["snapshot"], Root.Signed.Keys, what, $"root version {Root.Signed.Version}");

        // §5.5.5: no targets role may disappear or go back in version, compared with both the
        // trusted snapshot file and the state (which survives deletion of that file).
        if (Snapshot is not null)
            foreach (var (name, old) in Snapshot.Signed.Meta)
                CheckRoleNotRolledBack(what, snap.Signed, name, old.Version);
        foreach (var (name, version) in State.RoleVersions)
            CheckRoleNotRolledBack(what, snap.Signed, name, version);

        Snapshot = snap; // kept as the rollback reference even if the final checks below fail
        CheckFinalSnapshot();
    }

    private static void CheckRoleNotRolledBack(string what, SnapshotMetadata snap, string name, long trustedVersion)
    {
        if (!snap.Meta.TryGetValue(name, out var now))
            throw new TufException(TufFailureKind.Version, $"{what}: '{name}' was listed by the trusted snapshot but is missing now (a role may not be removed from snapshot; rollback attack).");
        if (now.Version < trustedVersion)
            throw new TufException(TufFailureKind.Version, $"{what}: '{name}' is version {now.Version}, lower than the already trusted version {trustedVersion} (rollback attack).");
    }

    /// <summary>TUF §5.5.6, §5.4.4: snapshot matches the version timestamp pinned and is unexpired.</summary>
    public void CheckFinalSnapshot()
    {
        CheckFinalTimestamp();
        var snap = Snapshot ?? throw new InvalidOperationException("No snapshot loaded.");
        var pinned = Timestamp!.Signed.SnapshotMeta.Version;
        if (snap.Signed.Version != pinned)
            throw new TufException(TufFailureKind.Version, $"snapshot.json is version {snap.Signed.Version} but timestamp.json pins version {pinned}.");
        if (snap.Signed.IsExpired(ReferenceTime)) throw Expired("snapshot.json", snap.Signed.Version, snap.Signed.Expires);
    }

    private void CheckFinalTimestamp()
    {
        var ts = Timestamp ?? throw new InvalidOperationException("No timestamp loaded.");
        if (ts.Signed.IsExpired(ReferenceTime)) throw Expired("timestamp.json", ts.Signed.Version, ts.Signed.Expires);
    }

    /// <summary>
    /// TUF §5.6 (top-level targets, delegator "root") and §5.6.7 (delegated roles): checks the
    /// snapshot pin (length, hashes, version), the delegator's keys and threshold, and expiry.
    /// </summary>
    public SignedMetadata<TargetsMetadata> UpdateTargets(byte[] data, string role, string delegator)
    {
        if (Snapshot is null) throw new InvalidOperationException("Targets need a trusted snapshot first.");
        CheckFinalSnapshot();
        RoleKeys roleKeys;
        IReadOnlyDictionary<string, TufKey> keys;
        string signer;
        if (delegator == "root")
        {
            roleKeys = Root.Signed.Roles["targets"];
            keys = Root.Signed.Keys;
            signer = $"root version {Root.Signed.Version}";
        }
        else
        {
            var parent = _targets.GetValueOrDefault(delegator) ?? throw new InvalidOperationException($"Delegator '{delegator}' is not loaded.");
            var delegation = parent.Signed.Delegations?.Roles.FirstOrDefault(r => r.Name == role)
                             ?? throw new TufException(TufFailureKind.Malformed, $"Role '{delegator}' does not delegate to '{role}'.");
            roleKeys = delegation.Keys;
            keys = parent.Signed.Delegations!.Keys;
            signer = $"its delegator '{delegator}'";
        }
        var fileName = role + ".json";
        var what = $"targets role '{role}'";
        if (!Snapshot.Signed.Meta.TryGetValue(fileName, out var pin))
            throw new TufException(TufFailureKind.Version, $"{what}: snapshot.json does not list '{fileName}', so it cannot be trusted.");
        pin.VerifyLengthAndHashes(data, what);
        var targets = Parse(data, static (j, w) => new TargetsMetadata(j, w), what);
        SignatureVerifier.RequireThreshold(targets, roleKeys, keys, what, signer);
        if (targets.Signed.Version != pin.Version)
            throw new TufException(TufFailureKind.Version, $"{what} is version {targets.Signed.Version} but snapshot.json pins version {pin.Version}.");
        if (targets.Signed.IsExpired(ReferenceTime)) throw Expired(what, targets.Signed.Version, targets.Signed.Expires);
        _targets[role] = targets;
        return targets;
    }

    private static SignedMetadata<T> Parse<T>(byte[] data, Func<Json.CjObject, string, T> factory, string what) where T : RoleMetadata =>
        SignedMetadata<T>.Parse(data, factory, what);

    private TufException Expired(string what, long version, DateTimeOffset expires) =>
        new(TufFailureKind.Expired,
            $"{what} version {version} expired at {Fields.FormatExpires(expires)} (reference time {Fields.FormatExpires(ReferenceTime)}); the repository must publish fresh metadata (or the device clock is wrong).");

    private static TufException Rollback(string what, long got, long trusted) =>
        new(TufFailureKind.Version, $"{what}: version {got} is lower than the already trusted version {trusted} (rollback attack or stale mirror).");
}
