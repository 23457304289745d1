using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Tests.Client;

/// <summary>
/// Random byte corruption of every metadata file: the verifier must answer with a
/// <see cref="TufException"/> (never another exception type, never a crash) and must never accept
/// content that differs from what was signed. 100 mutations per role by default;
/// <c>EDGEAGENT_LONG_TESTS=1</c> runs 10,000 per role.
/// </summary>
public sealed class MutationFuzzTests
{
    private static int Mutations => Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 10_000 : 100;

    [Theory]
    [InlineData("timestamp")]
    [InlineData("snapshot")]
    [InlineData("targets")]
    [InlineData("root")]
    public void Corrupted_metadata_is_refused_with_a_tuf_error_or_is_semantically_identical(string role)
    {
        using var team = SigningKey.CreateEcdsaP256();
        var repo = new TufRepository();
        repo.AddTarget("a/b.bin", "payload"u8.ToArray(), EdgeAgent.Trust.Json.Cj.Obj(("n", EdgeAgent.Trust.Json.Cj.Int(1))));
        repo.Delegate("targets", new DelegationSpec("team", [team], 1, Paths: ["team/*"]));
        repo.Publish();
        var root1 = repo.Files["metadata/1.root.json"];
        repo.RotateKeys("targets");
        repo.Publish(); // root v2 exists so the root update path is exercised too
        var files = new Dictionary<string, byte[]>
        {
            ["root"] = repo.Files["metadata/2.root.json"],
            ["timestamp"] = repo.Files["metadata/timestamp.json"],
            ["snapshot"] = repo.Files["metadata/2.snapshot.json"],
            ["targets"] = repo.Files["metadata/2.targets.json"],
        };
        var now = DateTimeOffset.UtcNow;
        var random = new Random(role.GetHashCode(StringComparison.Ordinal) ^ 20261122);
        var accepted = 0;
        for (var i = 0; i < Mutations; i++)
        {
            var mutated = (byte[])files[role].Clone();
            var flips = random.Next(1, 4);
            for (var f = 0; f < flips; f++) mutated[random.Next(mutated.Length)] = (byte)random.Next(256);

            var set = new TrustedMetadataSet(root1, TrustState.Initial(1, now), now);
            try
            {
                set.UpdateRoot(role == "root" ? mutated : files["root"]);
                set.UpdateTimestamp(role == "timestamp" ? mutated : files["timestamp"]);
                set.UpdateSnapshot(role == "snapshot" ? mutated : files["snapshot"], fromLocalCache: false);
                set.UpdateTargets(role == "targets" ? mutated : files["targets"], "targets", "root");
            }
            catch (TufException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                continue;
            }
            // Accepted: only possible when the corruption did not change the signed content.
            accepted++;
            var original = EdgeAgent.Trust.Metadata.SignedMetadata<EdgeAgent.Trust.Metadata.TargetsMetadata>.Parse(files["targets"],
                static (j, w) => new EdgeAgent.Trust.Metadata.TargetsMetadata(j, w), "t");
            Assert.Equal(original.CanonicalSigned, set.Targets["targets"].CanonicalSigned);
            Assert.Equal(2, set.Root.Signed.Version);
        }
        Assert.True(accepted < Mutations, "every mutation was accepted: the test is not exercising the verifier");
    }
}
