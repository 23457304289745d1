using System.Security.Cryptography;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Client;

/// <summary>
/// Attacks from the TUF threat model (TUF §1.5.2) played against the client over real HTTP.
/// Each must be refused with a clear reason and leave the trusted state as it was.
/// </summary>
public sealed class AdversarialRepositoryTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task<TufTestBed> RefreshedBedAsync(Action<TufRepository>? configure = null)
    {
        var bed = await TufTestBed.CreateAsync(configure);
        await bed.RefreshAsync();
        return bed;
    }

    private static void Republish(TufTestBed bed)
    {
        bed.Repo.Publish();
        bed.Sync();
    }

    // ---- targets ---------------------------------------------------------------------------

    [Fact]
    public async Task Substituted_target_of_the_same_length_is_refused_and_the_old_file_kept()
    {
        await using var bed = await RefreshedBedAsync();
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        var url = "targets/" + EdgeAgent.Trust.Client.TufClient.TargetUrlPath(target.File, true);
        bed.Server.Files[url] = "EVIL-v1 payload!!"u8.ToArray();
        Assert.Equal(target.Length, bed.Server.Files[url].Length);
        var dest = Path.Combine(bed.TargetDir, "kws.bundle");
        File.WriteAllText(dest, "previous good bundle");

        var e = await Assert.ThrowsAsync<TufException>(() => client.DownloadTargetAsync(target, dest, Ct));
        Assert.Equal(TufFailureKind.LengthOrHash, e.Kind);
        Assert.Contains("sha256", e.Message);
        Assert.Equal("previous good bundle", File.ReadAllText(dest));
        Assert.Empty(Directory.EnumerateFiles(bed.TargetDir, "*.part"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Target_longer_than_its_pinned_length_is_refused(bool omitContentLength)
    {
        await using var bed = await RefreshedBedAsync();
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        var url = "targets/" + EdgeAgent.Trust.Client.TufClient.TargetUrlPath(target.File, true);
        var longer = bed.Server.Files[url].Concat(new byte[100_000]).ToArray();
        bed.Server.Override = p => p == url ? new ServedResponse(200, longer) { OmitContentLength = omitContentLength } : null;

        var e = await Assert.ThrowsAsync<TufException>(() => client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "t"), Ct));
        Assert.Equal(TufFailureKind.TooLarge, e.Kind);
        Assert.Contains($"{target.Length} bytes", e.Message);
        Assert.False(File.Exists(Path.Combine(bed.TargetDir, "t")));
    }

    [Fact]
    public async Task Target_shorter_than_its_pinned_length_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        var url = "targets/" + EdgeAgent.Trust.Client.TufClient.TargetUrlPath(target.File, true);
        bed.Server.Files[url] = bed.Server.Files[url][..5];
        var e = await Assert.ThrowsAsync<TufException>(() => client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "t"), Ct));
        Assert.Equal(TufFailureKind.LengthOrHash, e.Kind);
    }

    [Fact]
    public async Task Target_pinned_only_by_an_unknown_hash_algorithm_is_refused()
    {
        await using var bed = await TufTestBed.CreateAsync(r => r.SetTargetEntry("odd.bin",
            Cj.Obj(("length", Cj.Int(3)), ("hashes", Cj.Obj(("sha3-256", Cj.Str(new string('a', 64))))))));
        bed.Server.Files["targets/" + new string('a', 64) + ".odd.bin"] = "abc"u8.ToArray();
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("odd.bin", Ct);
        var e = await Assert.ThrowsAsync<TufException>(() => client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "odd"), Ct));
        Assert.Equal(TufFailureKind.LengthOrHash, e.Kind);
        Assert.Contains("sha3-256", e.Message);
    }

    [Fact]
    public async Task Snapshot_pinned_only_by_an_unknown_hash_algorithm_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        Republish(bed);
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"],
            s => s.SetPath("meta/snapshot.json/hashes", Cj.Obj(("blake9", Cj.Str("00")))), Craft.Signers(bed.Repo.KeysOf("timestamp")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.LengthOrHash, refusedRole: "snapshot");
        Assert.Contains("blake9", e.Message);
    }

    [Fact]
    public async Task Drip_fed_target_download_is_aborted_by_the_throughput_floor()
    {
        await using var bed = await RefreshedBedAsync();
        var client = bed.NewClient(options: new EdgeAgent.Trust.Client.TufClientOptions
        {
            MetadataDirectory = bed.MetadataDir, MetadataBaseUri = bed.Server.MetadataUri, TargetBaseUri = bed.Server.TargetsUri,
            MinimumBytesPerSecond = 10_000, SlowStartGracePeriod = TimeSpan.FromMilliseconds(200),
        });
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        var url = "targets/" + EdgeAgent.Trust.Client.TufClient.TargetUrlPath(target.File, true);
        bed.Server.Override = p => p == url ? new ServedResponse(200, bed.Server.Files[url]) { DripDelay = TimeSpan.FromMilliseconds(200) } : null;

        var e = await Assert.ThrowsAsync<TufDownloadException>(() => client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "t"), Ct));
        Assert.Equal(TufFailureKind.TooSlow, e.Kind);
        Assert.Contains("drip-feed", e.Message);
    }

    [Fact]
    public async Task Drip_fed_metadata_is_aborted_and_nothing_is_trusted()
    {
        await using var bed = await RefreshedBedAsync();
        Republish(bed);
        var ts = bed.Server.Files["metadata/timestamp.json"];
        bed.Server.Override = p => p == "metadata/timestamp.json" ? new ServedResponse(200, ts) { DripDelay = TimeSpan.FromMilliseconds(100) } : null;
        var client = bed.NewClient(options: new EdgeAgent.Trust.Client.TufClientOptions
        {
            MetadataDirectory = bed.MetadataDir, MetadataBaseUri = bed.Server.MetadataUri,
            MinimumBytesPerSecond = 1_000, SlowStartGracePeriod = TimeSpan.FromMilliseconds(200),
        });
        await bed.RefreshRefusedAsync(TufFailureKind.TooSlow, client);
    }

    [Fact]
    public async Task Metadata_beyond_the_size_cap_is_refused_before_parsing()
    {
        await using var bed = await RefreshedBedAsync();
        var huge = new byte[20_000];
        bed.Server.Override = p => p == "metadata/timestamp.json" ? new ServedResponse(200, huge) { OmitContentLength = true } : null;
        var e = await bed.RefreshRefusedAsync(TufFailureKind.TooLarge);
        Assert.Contains("16384", e.Message);
    }

    // ---- rollback and freeze ---------------------------------------------------------------

    [Fact]
    public async Task Rollback_is_refused_when_timestamp_version_decreases()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var oldTimestamp = bed.Repo.Files["metadata/timestamp.json"];
        Republish(bed);
        await bed.RefreshAsync();
        bed.Server.Files["metadata/timestamp.json"] = oldTimestamp;
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version);
        Assert.Contains("version 1 is lower than the already trusted version 2", e.Message);
    }

    [Fact]
    public async Task Rollback_is_refused_when_timestamp_lists_an_older_snapshot()
    {
        await using var bed = await TufTestBed.CreateAsync();
        Republish(bed);
        await bed.RefreshAsync();
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"],
            s => s.WithVersion(3).SetPath("meta/snapshot.json", Cj.Obj(("version", Cj.Int(1)))), Craft.Signers(bed.Repo.KeysOf("timestamp")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version);
        Assert.Contains("snapshot version 1", e.Message);
    }

    [Fact]
    public async Task Rollback_is_refused_when_snapshot_lists_an_older_targets_version()
    {
        await using var bed = await TufTestBed.CreateAsync();
        bed.Repo.AddTarget("b", "b"u8.ToArray());
        Republish(bed);
        await bed.RefreshAsync();
        var snap = Craft.Resign(bed.Repo.Files["metadata/2.snapshot.json"],
            s => s.WithVersion(3).SetPath("meta/targets.json/version", Cj.Int(1)), Craft.Signers(bed.Repo.KeysOf("snapshot")));
        bed.Server.Files["metadata/3.snapshot.json"] = snap;
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"],
            s => s.WithVersion(3).SetPath("meta/snapshot.json", Cj.Obj(("version", Cj.Int(3)))), Craft.Signers(bed.Repo.KeysOf("timestamp")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version, refusedRole: "snapshot");
        Assert.Contains("'targets.json' is version 1, lower than the already trusted version 2", e.Message);
    }

    [Fact]
    public async Task Same_timestamp_version_with_different_content_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"],
            s => s.WithExpires(TufTestBed.Start.AddDays(30)), Craft.Signers(bed.Repo.KeysOf("timestamp")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version);
        Assert.Contains("different content", e.Message);
    }

    [Fact]
    public async Task Role_removed_from_snapshot_is_refused()
    {
        using var key = SigningKey.CreateEcdsaP256();
        await using var bed = await RefreshedBedAsync(r => r.Delegate("targets", new DelegationSpec("team", [key], 1, Paths: ["team/*"])));
        Assert.True(TrustState.Load(bed.MetadataDir).RoleVersions.ContainsKey("team.json"));
        Republish(bed);
        bed.Server.Files["metadata/2.snapshot.json"] = Craft.Resign(bed.Repo.Files["metadata/2.snapshot.json"],
            s => s.SetPath("meta/team.json", null), Craft.Signers(bed.Repo.KeysOf("snapshot")));
        bed.Repo.TimestampPinsHashes = false;
        bed.Server.Files["metadata/timestamp.json"] = bed.Repo.PublishTimestamp();
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version, refusedRole: "snapshot");
        Assert.Contains("'team.json' was listed by the trusted snapshot but is missing now", e.Message);
    }

    [Fact]
    public async Task Deleted_local_timestamp_does_not_readmit_an_older_valid_timestamp()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var oldTimestamp = bed.Repo.Files["metadata/timestamp.json"];
        Republish(bed);
        await bed.RefreshAsync();
        File.Delete(Path.Combine(bed.MetadataDir, "timestamp.json"));
        bed.Server.Files["metadata/timestamp.json"] = oldTimestamp;
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version);
        Assert.Contains("lower than the already trusted version 2", e.Message);
    }

    [Fact]
    public async Task Clock_reset_to_1970_does_not_revive_metadata_that_expired_before_the_time_floor()
    {
        await using var bed = await TufTestBed.CreateAsync(r => r.SetExpires("timestamp", TufTestBed.Start.AddDays(1)));
        await bed.RefreshAsync();
        // The repository is frozen: it keeps serving the same timestamp. Two days on it has expired.
        bed.Clock.Advance(TimeSpan.FromDays(2));
        await bed.RefreshRefusedAsync(TufFailureKind.Expired);
        // The clock is reset (dead RTC battery); the replayed timestamp would look fresh in 1970.
        bed.Clock.Now = DateTimeOffset.UnixEpoch;
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Expired);
        Assert.Contains("timestamp.json", e.Message);
        Assert.Contains($"reference time {TufTestBed.Start.AddDays(2):yyyy-MM-dd}", e.Message);
    }

    // ---- expiry ------------------------------------------------------------------------------

    [Theory]
    [InlineData("timestamp", "timestamp.json")]
    [InlineData("snapshot", "snapshot.json")]
    [InlineData("targets", "targets role 'targets'")]
    public async Task Expired_role_is_refused(string role, string mention)
    {
        await using var bed = await RefreshedBedAsync();
        foreach (var r in new[] { "timestamp", "snapshot", "targets" })
            bed.Repo.SetExpires(r, r == role ? TufTestBed.Start.AddHours(1) : TufTestBed.Start.AddDays(30));
        Republish(bed);
        bed.Clock.Advance(TimeSpan.FromHours(2));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Expired, refusedRole: role);
        Assert.Contains(mention, e.Message);
        Assert.Contains("expired", e.Message);
    }

    [Fact]
    public async Task Expired_root_is_refused_even_when_no_newer_root_exists()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Clock.Advance(TimeSpan.FromDays(400));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Expired);
        Assert.Contains("root.json", e.Message);
    }

    // ---- pins ----------------------------------------------------------------------------------

    [Fact]
    public async Task Snapshot_not_matching_the_hash_timestamp_pins_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        Republish(bed);
        // Same length, one character of the signature changed: only the hash pin can tell.
        bed.Server.Files["metadata/2.snapshot.json"] = Craft.FlipSignatureDigit(bed.Repo.Files["metadata/2.snapshot.json"]);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.LengthOrHash, refusedRole: "snapshot");
        Assert.Contains("sha256", e.Message);
    }

    [Fact]
    public async Task Snapshot_with_another_version_than_timestamp_pins_is_refused()
    {
        await using var bed = await RefreshedBedAsync(r => r.TimestampPinsHashes = false);
        Republish(bed);
        bed.Server.Files["metadata/2.snapshot.json"] = Craft.Resign(bed.Repo.Files["metadata/2.snapshot.json"],
            s => s.WithVersion(5), Craft.Signers(bed.Repo.KeysOf("snapshot")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version, refusedRole: "snapshot");
        Assert.Contains("timestamp.json pins version 2", e.Message);
    }

    [Fact]
    public async Task Targets_not_matching_the_hash_snapshot_pins_are_refused()
    {
        await using var bed = await RefreshedBedAsync(r => r.SnapshotPinsHashes = true);
        bed.Repo.AddTarget("b", "b"u8.ToArray());
        Republish(bed);
        bed.Server.Files["metadata/2.targets.json"] = Craft.FlipSignatureDigit(bed.Repo.Files["metadata/2.targets.json"]);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.LengthOrHash, refusedRole: "targets");
        Assert.Contains("targets role 'targets'", e.Message);
    }

    [Fact]
    public async Task Targets_with_another_version_than_snapshot_pins_are_refused()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Repo.AddTarget("b", "b"u8.ToArray());
        Republish(bed);
        bed.Server.Files["metadata/2.targets.json"] = Craft.Resign(bed.Repo.Files["metadata/2.targets.json"],
            s => s.WithVersion(3), Craft.Signers(bed.Repo.KeysOf("targets")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version, refusedRole: "targets");
        Assert.Contains("snapshot.json pins version 2", e.Message);
    }

    // ---- signatures and keys -------------------------------------------------------------------

    [Fact]
    public async Task Threshold_not_met_is_refused()
    {
        using var second = SigningKey.CreateEcdsaP256();
        await using var bed = await RefreshedBedAsync(r => { r.AddKey("timestamp", second); r.SetThreshold("timestamp", 2); });
        Republish(bed);
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"], s => s, bed.Repo.KeysOf("timestamp")[0]);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Signature);
        Assert.Contains("only 1 of the required 2", e.Message);
    }

    [Fact]
    public async Task Duplicate_signature_key_ids_count_once()
    {
        using var second = SigningKey.CreateEcdsaP256();
        await using var bed = await RefreshedBedAsync(r => { r.AddKey("timestamp", second); r.SetThreshold("timestamp", 2); });
        Republish(bed);
        var first = bed.Repo.KeysOf("timestamp")[0];
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"], s => s, first, first);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Signature);
        Assert.Contains("only 1 of the required 2", e.Message);
    }

    [Fact]
    public async Task One_key_listed_under_two_key_ids_counts_once()
    {
        await using var bed = await RefreshedBedAsync();
        var tsKey = bed.Repo.KeysOf("timestamp")[0];
        const string alias = "00000000000000000000000000000000000000000000000000000000000000aa";
        // Root v2 (properly signed) lists the timestamp key twice, under its id and an alias, threshold 2.
        bed.Server.Files["metadata/2.root.json"] = Craft.Resign(bed.Repo.RootBytes, s => s.WithVersion(2)
                .SetPath("keys/" + alias, tsKey.PublicKey.Json)
                .SetPath("roles/timestamp", Cj.Obj(("keyids", Cj.Arr([Cj.Str(tsKey.KeyId), Cj.Str(alias)])), ("threshold", Cj.Int(2)))),
            Craft.Signers(bed.Repo.KeysOf("root")));
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"], s => s.WithVersion(2),
            tsKey, new Craft.Signer(alias, d => tsKey.Sign(d)));
        var e = await Assert.ThrowsAsync<TufException>(() => bed.RefreshAsync());
        Assert.Equal(TufFailureKind.Signature, e.Kind);
        Assert.Contains("only 1 of the required 2", e.Message);
        // Root v2 changed the timestamp keys, so the old timestamp was dropped (TUF §5.3.11) and
        // the refused one was not stored in its place.
        Assert.False(File.Exists(Path.Combine(bed.MetadataDir, "timestamp.json")));
        Assert.Equal(0, TrustState.Load(bed.MetadataDir).TimestampVersion);
    }

    [Fact]
    public async Task Key_on_another_curve_never_counts_toward_a_threshold()
    {
        await using var bed = await RefreshedBedAsync();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var key = TufKey.Create("ecdsa", "ecdsa-sha2-nistp256", p384.ExportSubjectPublicKeyInfoPem());
        bed.Server.Files["metadata/2.root.json"] = Craft.Resign(bed.Repo.RootBytes, s => s.WithVersion(2)
                .SetPath("keys/" + key.ContentKeyId, key.Json)
                .SetPath("roles/timestamp", Cj.Obj(("keyids", Cj.Arr([Cj.Str(key.ContentKeyId)])), ("threshold", Cj.Int(1)))),
            Craft.Signers(bed.Repo.KeysOf("root")));
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"], s => s.WithVersion(2),
            new Craft.Signer(key.ContentKeyId, d => Convert.ToHexStringLower(p384.SignData(d, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))));
        var e = await Assert.ThrowsAsync<TufException>(() => bed.RefreshAsync());
        Assert.Equal(TufFailureKind.Signature, e.Kind);
        Assert.Contains("not NIST P-256", e.Message);
    }

    [Fact]
    public async Task Metadata_of_the_wrong_type_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Server.Files["metadata/timestamp.json"] = bed.Repo.Files["metadata/1.snapshot.json"];
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Malformed);
        Assert.Contains("'_type' is 'snapshot'", e.Message);
    }

    [Fact]
    public async Task Floats_in_signed_are_refused()
    {
        await using var bed = await RefreshedBedAsync();
        Republish(bed);
        bed.Server.Files["metadata/timestamp.json"] = Craft.Replace(bed.Repo.Files["metadata/timestamp.json"], "\"version\":2}", "\"version\":2.0}");
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Malformed);
        Assert.Contains("floating point", e.Message);
    }

    [Fact]
    public async Task Duplicate_keys_in_signed_are_refused()
    {
        await using var bed = await RefreshedBedAsync();
        Republish(bed);
        bed.Server.Files["metadata/timestamp.json"] = Craft.Replace(bed.Repo.Files["metadata/timestamp.json"], "\"version\":2}", "\"version\":2,\"version\":9}");
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Malformed);
        Assert.Contains("duplicate", e.Message);
    }

    // ---- root chain ----------------------------------------------------------------------------

    [Fact]
    public async Task Root_chain_skipping_a_version_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Server.Files["metadata/2.root.json"] = Craft.Resign(bed.Repo.RootBytes, s => s.WithVersion(3), Craft.Signers(bed.Repo.KeysOf("root")));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Version);
        Assert.Contains("expected 2", e.Message);
    }

    [Fact]
    public async Task New_root_without_a_threshold_of_the_old_root_keys_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        var newKey = bed.Repo.RotateKeys("root");
        bed.Server.Files["metadata/2.root.json"] = bed.Repo.PublishRoot(signers: [newKey]);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Signature);
        Assert.Contains("trusted root version 1", e.Message);
    }

    [Fact]
    public async Task New_root_without_a_threshold_of_its_own_keys_is_refused()
    {
        await using var bed = await RefreshedBedAsync();
        var oldKeys = bed.Repo.KeysOf("root").ToArray();
        bed.Repo.RotateKeys("root");
        bed.Server.Files["metadata/2.root.json"] = bed.Repo.PublishRoot(signers: oldKeys);
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Signature);
        Assert.Contains("the new root itself", e.Message);
    }

    [Fact]
    public async Task Root_rotation_with_both_thresholds_is_followed_and_persisted_step_by_step()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Repo.RotateKeys("root");
        bed.Repo.PublishRoot();
        bed.Repo.RotateKeys("root");
        Republish(bed);
        await bed.RefreshAsync();
        Assert.Equal(3, TrustState.Load(bed.MetadataDir).RootVersion);
        Assert.Equal(bed.Repo.Files["metadata/3.root.json"], File.ReadAllBytes(Path.Combine(bed.MetadataDir, "root.json")));
    }

    [Fact]
    public async Task Fast_forward_attack_is_recovered_by_rotating_the_timestamp_key()
    {
        await using var bed = await RefreshedBedAsync();
        // The attacker holds the timestamp key and pushes a far-future version.
        bed.Server.Files["metadata/timestamp.json"] = Craft.Resign(bed.Repo.Files["metadata/timestamp.json"], s => s.WithVersion(1000),
            Craft.Signers(bed.Repo.KeysOf("timestamp")));
        await bed.RefreshAsync();
        Assert.Equal(1000, TrustState.Load(bed.MetadataDir).TimestampVersion);

        // The real repository's next timestamp now looks like a rollback.
        Republish(bed);
        await bed.RefreshRefusedAsync(TufFailureKind.Version);

        // Recovery: root rotates the timestamp key; the client forgets what the old key vouched for.
        bed.Repo.RotateKeys("timestamp");
        Republish(bed);
        await bed.RefreshAsync();
        var state = TrustState.Load(bed.MetadataDir);
        Assert.Equal(2, state.RootVersion);
        Assert.Equal(bed.Repo.VersionOf("timestamp"), state.TimestampVersion);
        Assert.True(state.TimestampVersion < 1000);
    }

    // ---- names, local state ----------------------------------------------------------------------

    [Fact]
    public async Task Unusual_role_and_target_names_stay_inside_their_directories()
    {
        using var key = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("../x", [key], 1, Paths: ["*"]));
            r.AddTarget("?q", "question"u8.ToArray(), role: "../x");
            r.AddTarget("#h", "hash"u8.ToArray(), role: "../x");
            r.AddTarget("..", "dots"u8.ToArray(), role: "../x");
        });
        var client = bed.NewClient();
        foreach (var (name, file) in new[] { ("?q", "%3Fq"), ("#h", "%23h") })
        {
            var t = await client.GetTargetAsync(name, Ct);
            Assert.Equal("../x", t.Role);
            await client.DownloadTargetAsync(t, Path.Combine(bed.TargetDir, file), Ct);
        }
        Assert.True(File.Exists(Path.Combine(bed.MetadataDir, "..%2Fx.json")));
        Assert.Equal("question", File.ReadAllText(Path.Combine(bed.TargetDir, "%3Fq")));
        Assert.Equal("hash", File.ReadAllText(Path.Combine(bed.TargetDir, "%23h")));
        Assert.False(File.Exists(Path.Combine(bed.Directory, "x.json")));
        Assert.Contains(bed.Server.Requests, r => r == "metadata/1...%2Fx.json");
        // ".." as a target path is fetched with an encoded dot segment, never as a parent reference.
        var dots = await client.GetTargetAsync("..", Ct);
        await client.DownloadTargetAsync(dots, Path.Combine(bed.TargetDir, "dots"), Ct);
        Assert.Contains(bed.Server.Requests, r => r.StartsWith("targets/", StringComparison.Ordinal) && r.EndsWith("...", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Missing_state_file_fails_closed_and_reinit_recovers()
    {
        await using var bed = await RefreshedBedAsync();
        File.Delete(TrustState.PathIn(bed.MetadataDir));
        var e = await Assert.ThrowsAsync<TufException>(() => bed.RefreshAsync());
        Assert.Equal(TufFailureKind.State, e.Kind);
        Assert.Contains("init", e.Message);

        await EdgeAgent.Trust.Client.TufClient.InitializeAsync(bed.MetadataDir, bed.Repo.Files["metadata/1.root.json"], bed.Clock, Ct);
        await bed.RefreshAsync();
    }

    [Fact]
    public async Task Corrupt_state_file_fails_closed()
    {
        await using var bed = await RefreshedBedAsync();
        var path = TrustState.PathIn(bed.MetadataDir);
        File.WriteAllText(path, File.ReadAllText(path).Replace("timestamp 1", "timestamp 0", StringComparison.Ordinal));
        var e = await Assert.ThrowsAsync<TufException>(() => bed.RefreshAsync());
        Assert.Equal(TufFailureKind.State, e.Kind);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task Local_root_replaced_by_an_older_version_fails_closed()
    {
        await using var bed = await RefreshedBedAsync();
        bed.Repo.RotateKeys("root");
        Republish(bed);
        await bed.RefreshAsync();
        File.WriteAllBytes(Path.Combine(bed.MetadataDir, "root.json"), bed.Repo.Files["metadata/1.root.json"]);
        var e = await Assert.ThrowsAsync<TufException>(() => bed.RefreshAsync());
        Assert.Equal(TufFailureKind.State, e.Kind);
        Assert.Contains("older", e.Message);
    }

    [Fact]
    public async Task Damaged_local_snapshot_is_replaced_by_a_fresh_download()
    {
        await using var bed = await RefreshedBedAsync();
        File.WriteAllText(Path.Combine(bed.MetadataDir, "snapshot.json"), "{not json");
        await bed.RefreshAsync();
        Assert.Equal(bed.Repo.Files["metadata/1.snapshot.json"], File.ReadAllBytes(Path.Combine(bed.MetadataDir, "snapshot.json")));
    }

    [Fact]
    public async Task Concurrent_update_of_the_same_directory_is_refused_not_interleaved()
    {
        await using var bed = await RefreshedBedAsync();
        using (MetadataLock.Acquire(bed.MetadataDir))
        {
            var e = await bed.RefreshRefusedAsync(TufFailureKind.State);
            Assert.Contains("Another process", e.Message);
        }
        await bed.RefreshAsync(); // released with the holder
    }

    [Fact]
    public async Task Missing_metadata_directory_fails_closed_with_the_recovery_hint()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var client = new EdgeAgent.Trust.Client.TufClient(new EdgeAgent.Trust.Client.TufClientOptions
        {
            MetadataDirectory = Path.Combine(bed.Directory, "nowhere"), MetadataBaseUri = bed.Server.MetadataUri,
        }, bed.Fetcher, bed.Clock);
        var e = await Assert.ThrowsAsync<TufException>(() => client.RefreshAsync(Ct));
        Assert.Equal(TufFailureKind.State, e.Kind);
        Assert.Contains("init", e.Message);
    }
}
