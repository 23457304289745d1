using System.Text;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Client;

public sealed class UpdateCycleTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Refresh_stores_exactly_the_bytes_received_as_unversioned_role_files()
    {
        await using var bed = await TufTestBed.CreateAsync();
        await bed.RefreshAsync();

        var jsonFiles = Directory.EnumerateFiles(bed.MetadataDir, "*.json").Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal(["root.json", "snapshot.json", "targets.json", "timestamp.json"], jsonFiles);
        Assert.Equal(bed.Repo.Files["metadata/timestamp.json"], File.ReadAllBytes(Path.Combine(bed.MetadataDir, "timestamp.json")));
        Assert.Equal(bed.Repo.Files["metadata/1.snapshot.json"], File.ReadAllBytes(Path.Combine(bed.MetadataDir, "snapshot.json")));
        Assert.Equal(bed.Repo.Files["metadata/1.targets.json"], File.ReadAllBytes(Path.Combine(bed.MetadataDir, "targets.json")));
        var state = TrustState.Load(bed.MetadataDir);
        Assert.Equal(1, state.TimestampVersion);
        Assert.Equal(1, state.SnapshotVersion);
        Assert.Equal(1, state.RoleVersions["targets.json"]);
        Assert.Equal(TufTestBed.Start, state.TimeFloor);
    }

    [Fact]
    public async Task Target_is_found_downloaded_verified_and_its_custom_metadata_is_readable()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var client = bed.NewClient();
        await client.RefreshAsync(Ct);
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        Assert.Equal("targets", target.Role);
        Assert.Equal("{\"release\":1}", Encoding.UTF8.GetString(target.CustomJson!));

        var dest = Path.Combine(bed.TargetDir, "kws.bundle");
        await client.DownloadTargetAsync(target, dest, Ct);
        Assert.Equal("bundle-v1 payload"u8.ToArray(), File.ReadAllBytes(dest));
        Assert.Empty(Directory.EnumerateFiles(bed.TargetDir, "*.part", SearchOption.AllDirectories));
        // Consistent snapshots: the target was fetched by its hash-prefixed name.
        Assert.Contains(bed.Server.Requests, r => r.StartsWith("targets/models/kws/", StringComparison.Ordinal) && r.EndsWith(".1.bundle", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Second_refresh_uses_local_snapshot_and_targets_when_nothing_changed()
    {
        await using var bed = await TufTestBed.CreateAsync();
        await bed.RefreshAsync();
        while (bed.Server.Requests.TryDequeue(out _)) { }
        await bed.RefreshAsync();
        Assert.Equal(["metadata/2.root.json", "metadata/timestamp.json"], bed.Server.Requests.ToArray());
    }

    [Fact]
    public async Task New_versions_are_picked_up_and_the_state_advances()
    {
        await using var bed = await TufTestBed.CreateAsync();
        await bed.RefreshAsync();
        bed.Repo.AddTarget("models/kws/2.bundle", "bundle-v2"u8.ToArray());
        bed.Repo.Publish();
        bed.Sync();
        var client = bed.NewClient();
        await client.RefreshAsync(Ct);
        Assert.NotNull(await client.FindTargetAsync("models/kws/2.bundle", Ct));
        var state = TrustState.Load(bed.MetadataDir);
        Assert.Equal(2, state.TimestampVersion);
        Assert.Equal(2, state.RoleVersions["targets.json"]);
    }

    [Fact]
    public async Task Unknown_fields_in_signed_are_kept_and_covered_by_the_signature()
    {
        await using var bed = await TufTestBed.CreateAsync(r => r.SetExtraField("targets", "x-edgeagent-channel", Cj.Str("stable")));
        await bed.RefreshAsync();
        Assert.Contains("\"x-edgeagent-channel\":\"stable\"", File.ReadAllText(Path.Combine(bed.MetadataDir, "targets.json")));

        // Changing the unknown field without re-signing breaks the signature.
        bed.Repo.SetExtraField("targets", "x-edgeagent-channel", Cj.Str("beta"));
        bed.Repo.Publish();
        bed.Sync();
        var published = bed.Repo.Files["metadata/2.targets.json"];
        bed.Server.Files["metadata/2.targets.json"] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(published).Replace("\"beta\"", "\"gamma\"", StringComparison.Ordinal));
        var e = await bed.RefreshRefusedAsync(TufFailureKind.Signature, refusedRole: "targets");
        Assert.Contains("targets", e.Message);
    }

    [Fact]
    public async Task Rsa_pss_keys_verify_like_ecdsa_keys()
    {
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.RemoveKey("snapshot", r.KeysOf("snapshot")[0].KeyId);
            r.AddKey("snapshot", SigningKey.CreateRsaPss(2048));
        });
        await bed.RefreshAsync();
        Assert.True(File.Exists(Path.Combine(bed.MetadataDir, "snapshot.json")));
    }

    [Fact]
    public async Task Repository_without_consistent_snapshots_is_served_by_plain_names()
    {
        await using var bed = await TufTestBed.CreateAsync(r => r.ConsistentSnapshot = false);
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("models/kws/1.bundle", Ct);
        await client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "x"), Ct);
        Assert.Contains("metadata/snapshot.json", bed.Server.Requests);
        Assert.Contains("targets/models/kws/1.bundle", bed.Server.Requests);
    }

    [Fact]
    public async Task Repository_written_to_a_directory_holds_the_published_files()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var dir = Path.Combine(bed.Directory, "www");
        bed.Repo.WriteToDirectory(dir);
        Assert.Equal(bed.Repo.Files["metadata/timestamp.json"], File.ReadAllBytes(Path.Combine(dir, "metadata", "timestamp.json")));
        Assert.True(File.Exists(Path.Combine(dir, "metadata", "1.root.json")));
        Assert.Single(Directory.EnumerateFiles(Path.Combine(dir, "targets", "models", "kws")));
    }

    [Fact]
    public async Task Signing_keys_round_trip_through_pem()
    {
        using var ec = SigningKey.CreateEcdsaP256();
        using var ec2 = SigningKey.FromPrivateKeyPem(ec.ExportPrivateKeyPem());
        Assert.Equal(ec.KeyId, ec2.KeyId);
        using var rsa = SigningKey.CreateRsaPss(2048);
        using var rsa2 = SigningKey.FromPrivateKeyPem(rsa.ExportPrivateKeyPem());
        Assert.Equal(rsa.KeyId, rsa2.KeyId);
        var sig = rsa2.Sign("x"u8);
        Assert.True(rsa.PublicKey.Verify("x"u8, sig));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Targets_pinned_with_sha256_and_sha512_must_match_both()
    {
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.AddSha512 = true;
            r.AddTarget("both.bin", "both hashes"u8.ToArray());
        });
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("both.bin", Ct);
        Assert.Equal(["sha256", "sha512"], target.Hashes.Keys.Order().ToArray());
        await client.DownloadTargetAsync(target, Path.Combine(bed.TargetDir, "ok"), Ct);

        // A file whose sha256 is right but sha512 is not (a forged sha512 entry) is refused.
        var bad = await TufTestBed.CreateAsync(r => r.SetTargetEntry("x.bin", Cj.Obj(("length", Cj.Int(3)),
            ("hashes", Cj.Obj(("sha256", Cj.Str(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("abc"u8))))
                , ("sha512", Cj.Str(new string('0', 128))))))));
        await using var _2 = bad;
        bad.Server.Files["targets/" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("abc"u8)) + ".x.bin"] = "abc"u8.ToArray();
        var c2 = bad.NewClient();
        var t2 = await c2.GetTargetAsync("x.bin", Ct);
        var e = await Assert.ThrowsAsync<TufException>(() => c2.DownloadTargetAsync(t2, Path.Combine(bad.TargetDir, "x"), Ct));
        Assert.Contains("sha512", e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Broken_target_download_resumes_with_a_range_request_and_is_verified_whole(bool serverSupportsRange)
    {
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(100_000);
        await using var bed = await TufTestBed.CreateAsync(r => r.AddTarget("big.bin", payload));
        bed.Server.SupportsRange = serverSupportsRange;
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("big.bin", Ct);
        var url = "targets/" + TufClient.TargetUrlPath(target.File, true);
        var first = true;
        bed.Server.Override = p => p == url && first ? new ServedResponse(200, payload) { TruncateAfter = 40_000 } : null;
        var dest = Path.Combine(bed.TargetDir, "big.bin");

        var e = await Assert.ThrowsAsync<TufDownloadException>(() => client.DownloadTargetAsync(target, dest, Ct, resume: true));
        Assert.Equal(TufFailureKind.Download, e.Kind);
        Assert.False(File.Exists(dest));
        var partial = Path.Combine(bed.TargetDir, ".big.bin.part");
        Assert.True(new FileInfo(partial).Length is > 0 and <= 40_000);

        first = false;
        await client.DownloadTargetAsync(target, dest, Ct, resume: true);
        Assert.Equal(payload, File.ReadAllBytes(dest));
        Assert.False(File.Exists(partial));
        var requests = bed.Server.Requests.Where(r => r.StartsWith(url, StringComparison.Ordinal)).ToArray();
        Assert.Contains(requests, r => r.Contains("Range: bytes=", StringComparison.Ordinal)); // it always tries to resume
        // A server without Range support answers 200 to the ranged request: the client starts over.
        Assert.Equal(serverSupportsRange ? 2 : 3, requests.Length);
    }

    [Fact]
    public async Task Resumed_prefix_that_was_tampered_with_fails_the_final_hash_and_is_discarded()
    {
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(10_000);
        await using var bed = await TufTestBed.CreateAsync(r => r.AddTarget("big.bin", payload));
        var client = bed.NewClient();
        var target = await client.GetTargetAsync("big.bin", Ct);
        var dest = Path.Combine(bed.TargetDir, "big.bin");
        var partial = Path.Combine(bed.TargetDir, ".big.bin.part");
        File.WriteAllBytes(partial, new byte[5_000]); // not the real prefix
        var e = await Assert.ThrowsAsync<TufException>(() => client.DownloadTargetAsync(target, dest, Ct, resume: true));
        Assert.Equal(TufFailureKind.LengthOrHash, e.Kind);
        Assert.False(File.Exists(partial));
        Assert.False(File.Exists(dest));
        await client.DownloadTargetAsync(target, dest, Ct, resume: true);
        Assert.Equal(payload, File.ReadAllBytes(dest));
    }
}
