using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Client;

/// <summary>Delegation search: ordered, pre-order depth-first, terminating (TUF §5.6.7).</summary>
public sealed class DelegationTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Theory]
    [InlineData("models/*", "models/kws.bundle", true)]
    [InlineData("models/*", "models/kws/1.bundle", false)]
    [InlineData("models/*/*", "models/kws/1.bundle", true)]
    [InlineData("*", "a/b", false)]
    [InlineData("*.bundle", "x.bundle", true)]
    [InlineData("v?.bin", "v1.bin", true)]
    [InlineData("v?.bin", "v10.bin", false)]
    [InlineData("v[0-4].bin", "v3.bin", true)]
    [InlineData("v[!0-4].bin", "v3.bin", false)]
    [InlineData("a/*/c", "a//c", true)]
    [InlineData("*a*b", "xaybzb", true)]
    [InlineData("*a*b", "xaybzc", false)]
    public void Path_patterns_match_per_segment(string pattern, string path, bool expected) =>
        Assert.Equal(expected, PathPattern.Matches(pattern, path));

    [Fact]
    public async Task First_listed_delegation_wins()
    {
        using var a = SigningKey.CreateEcdsaP256();
        using var b = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("first", [a], 1, Paths: ["shared/*"]));
            r.Delegate("targets", new DelegationSpec("second", [b], 1, Paths: ["shared/*"]));
            r.AddTarget("shared/x", "from-second"u8.ToArray(), role: "second");
            r.AddTarget("shared/x", "from-first"u8.ToArray(), role: "first");
        });
        var t = await bed.NewClient().GetTargetAsync("shared/x", Ct);
        Assert.Equal("first", t.Role);
    }

    [Fact]
    public async Task Search_is_depth_first_in_preorder()
    {
        using var k = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("a", [k], 1, Paths: ["*"]));
            r.Delegate("targets", new DelegationSpec("b", [k], 1, Paths: ["*"]));
            r.Delegate("a", new DelegationSpec("a1", [k], 1, Paths: ["*"]));
            r.AddTarget("t", "in-a1"u8.ToArray(), role: "a1");
            r.AddTarget("t", "in-b"u8.ToArray(), role: "b");
        });
        var t = await bed.NewClient().GetTargetAsync("t", Ct);
        Assert.Equal("a1", t.Role);
        Assert.True(File.Exists(Path.Combine(bed.MetadataDir, "a1.json")));
        Assert.False(File.Exists(Path.Combine(bed.MetadataDir, "b.json")));
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, "b")]
    public async Task Terminating_delegation_stops_the_search(bool terminating, string? expectedRole)
    {
        using var k = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("a", [k], 1, Paths: ["*"], Terminating: terminating));
            r.Delegate("targets", new DelegationSpec("b", [k], 1, Paths: ["*"]));
            r.AddTarget("t", "in-b"u8.ToArray(), role: "b");
        });
        var t = await bed.NewClient().FindTargetAsync("t", Ct);
        Assert.Equal(expectedRole, t?.Role);
    }

    [Fact]
    public async Task Star_does_not_cross_a_slash_in_delegation_paths()
    {
        using var k = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("models", [k], 1, Paths: ["models/*"]));
            r.AddTarget("models/kws/7.bundle", "deep"u8.ToArray(), role: "models");
        });
        Assert.Null(await bed.NewClient().FindTargetAsync("models/kws/7.bundle", Ct));
    }

    [Fact]
    public async Task Path_hash_prefix_delegations_are_followed()
    {
        using var k = SigningKey.CreateEcdsaP256();
        var prefix = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("bin/x"u8))[..2];
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("bins", [k], 1, PathHashPrefixes: [prefix]));
            r.AddTarget("bin/x", "x"u8.ToArray(), role: "bins");
        });
        Assert.Equal("bins", (await bed.NewClient().GetTargetAsync("bin/x", Ct)).Role);
    }

    [Fact]
    public async Task Delegated_role_signed_by_an_undelegated_key_is_refused()
    {
        using var delegated = SigningKey.CreateEcdsaP256();
        using var rogue = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            r.Delegate("targets", new DelegationSpec("team", [delegated], 1, Paths: ["team/*"]));
            r.AddTarget("team/x", "x"u8.ToArray(), role: "team");
        });
        bed.Server.Files["metadata/1.team.json"] = Craft.Resign(bed.Repo.Files["metadata/1.team.json"], s => s, rogue);
        var e = await Assert.ThrowsAsync<TufException>(() => bed.NewClient().FindTargetAsync("team/x", Ct));
        Assert.Equal(TufFailureKind.Signature, e.Kind);
        Assert.Contains("'team'", e.Message);
        Assert.False(File.Exists(Path.Combine(bed.MetadataDir, "team.json")));
    }

    [Fact]
    public async Task Deep_delegation_chains_stop_at_the_visit_budget()
    {
        using var k = SigningKey.CreateEcdsaP256();
        await using var bed = await TufTestBed.CreateAsync(r =>
        {
            var previous = "targets";
            for (var i = 0; i < 40; i++)
            {
                r.Delegate(previous, new DelegationSpec($"d{i}", [k], 1, Paths: ["*"]));
                previous = $"d{i}";
            }
            r.AddTarget("deep", "deep"u8.ToArray(), role: "d39");
        });
        // 41 roles deep, the default budget is 32 roles: not found rather than an unbounded walk.
        Assert.Null(await bed.NewClient().FindTargetAsync("deep", Ct));
        var generous = bed.NewClient(options: new EdgeAgent.Trust.Client.TufClientOptions
        {
            MetadataDirectory = bed.MetadataDir, MetadataBaseUri = bed.Server.MetadataUri, MaxDelegations = 64,
        });
        Assert.Equal("d39", (await generous.GetTargetAsync("deep", Ct)).Role);
    }
}
