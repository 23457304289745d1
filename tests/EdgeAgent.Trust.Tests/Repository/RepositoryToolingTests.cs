using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Repository;

public sealed class RepositoryToolingTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Repository_reloaded_from_its_directory_keeps_publishing_for_existing_devices()
    {
        using var teamKey = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.SetExtraField("targets", "x-channel", Cj.Str("stable"));
            r.Delegate("targets", new DelegationSpec("team", [teamKey], 1, Paths: ["team/*"], Terminating: true));
            r.AddTarget("team/a.bin", "a"u8.ToArray(), role: "team");
        });
        await bed.RefreshAsync();
        var www = Path.Combine(bed.Directory, "www");
        bed.Repo.WriteToDirectory(www);

        // A hub restart: reopen the directory with the private keys it holds.
        var signers = new[] { "root", "timestamp", "snapshot", "targets", "team" }.SelectMany(bed.Repo.KeysOf).ToList();
        var reopened = TufRepository.Load(www, signers, bed.Clock);
        Assert.Equal(1, reopened.VersionOf("targets"));
        Assert.Equal(["team/a.bin"], reopened.TargetsOf("team").Select(t => t.Path).ToArray());
        reopened.AddTarget("models/kws/2.bundle", "bundle-v2"u8.ToArray());
        reopened.Publish();
        reopened.WriteToDirectory(www);
        bed.Server.Load(reopened.Files);

        var client = bed.NewClient();
        await client.RefreshAsync(Ct);
        Assert.Equal(2, TrustState.Load(bed.MetadataDir).RoleVersions["targets.json"]);
        Assert.NotNull(await client.FindTargetAsync("models/kws/2.bundle", Ct));
        Assert.Equal("team", (await client.GetTargetAsync("team/a.bin", Ct)).Role);
        Assert.Contains("\"x-channel\":\"stable\"", File.ReadAllText(Path.Combine(bed.MetadataDir, "targets.json")));
    }

    [Fact]
    public async Task Offline_root_keys_stay_offline_and_root_changes_need_them()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var www = Path.Combine(bed.Directory, "www");
        bed.Repo.WriteToDirectory(www);
        var online = new[] { "timestamp", "snapshot", "targets" }.SelectMany(bed.Repo.KeysOf).ToList();
        var hub = TufRepository.Load(www, online, bed.Clock);

        hub.AddTarget("x", "x"u8.ToArray());
        hub.Publish(); // targets, snapshot, timestamp: online keys suffice

        hub.RotateKeys("timestamp");
        var e = Assert.Throws<TufException>(() => hub.Publish());
        Assert.Equal(TufFailureKind.Repository, e.Kind);
        Assert.Contains("Cannot sign root", e.Message);

        // The ceremony: the offline root key is brought in for this one publication.
        hub.AddSigner(bed.Repo.KeysOf("root")[0]);
        hub.Publish();
        bed.Server.Load(hub.Files);
        await bed.RefreshAsync();
        Assert.Equal(2, TrustState.Load(bed.MetadataDir).RootVersion);
    }

    [Fact]
    public void Threshold_signing_uses_several_keys_and_refuses_when_too_few_are_registered()
    {
        var repo = new TufRepository();
        using var second = SigningKey.CreateEcdsaP256();
        repo.AddKey("snapshot", second);
        repo.SetThreshold("snapshot", 2);
        repo.Publish();
        var snapshot = Craft.SignedOf(repo.Files["metadata/1.snapshot.json"]);
        Assert.Equal(2, ((CjObject)StrictJsonParser.Parse(repo.Files["metadata/1.snapshot.json"], "s"))["signatures"] is CjArray a ? a.Items.Count : 0);
        Assert.Equal("snapshot", ((CjString)snapshot["_type"]!).Value);

        using var offline = SigningKey.CreateEcdsaP256();
        repo.AddPublicKey("targets", offline.PublicKey);
        repo.SetThreshold("targets", 2);
        var e = Assert.Throws<TufException>(() => repo.Publish());
        Assert.Contains("Cannot sign targets", e.Message);
    }

    [Fact]
    public void Unknown_roles_and_invalid_delegations_are_refused()
    {
        var repo = new TufRepository();
        Assert.Equal(TufFailureKind.Repository, Assert.Throws<TufException>(() => repo.AddTarget("a", [], role: "nope")).Kind);
        Assert.Equal(TufFailureKind.Repository, Assert.Throws<TufException>(() => repo.AddTarget("a", [], role: "snapshot")).Kind);
        using var k = SigningKey.CreateEcdsaP256();
        Assert.Throws<TufException>(() => repo.Delegate("targets", new DelegationSpec("d", [k], 1)));
        Assert.Throws<TufException>(() => repo.Delegate("targets", new DelegationSpec("snapshot", [k], 1, Paths: ["*"])));
        Assert.Throws<TufException>(() => TufRepository.Load(Path.Combine(Path.GetTempPath(), "no-such-repo-" + Guid.NewGuid()), []));
    }
}
