using EdgeAgent.Trust.Repository;

namespace EdgeAgent.Trust.Tests.Repository;

/// <summary>Starting a repository from an offline-signed root, adopting the next root, reloading from any file store.</summary>
public sealed class RepositoryFromRootTests
{
    [Fact]
    public void A_repository_started_from_an_offline_root_publishes_with_online_keys_and_reloads_from_a_file_store()
    {
        var ceremony = new TufRepository();
        ceremony.Publish();
        var online = new[] { "targets", "snapshot", "timestamp" }.SelectMany(ceremony.KeysOf).ToList();

        var hub = TufRepository.FromRoot(ceremony.RootBytes, online);
        foreach (var role in new[] { "targets", "snapshot", "timestamp" }) hub.SetExpires(role, DateTimeOffset.UtcNow.AddDays(1));
        hub.AddTarget("models/kws/1.bundle", "b"u8.ToArray());
        hub.PublishTargets("targets");
        hub.PublishSnapshot();
        hub.PublishTimestamp();
        Assert.Throws<TufException>(() => hub.PublishRoot()); // the root keys are not here

        var files = hub.Files.Where(f => f.Key.StartsWith("metadata/", StringComparison.Ordinal))
            .ToDictionary(f => f.Key["metadata/".Length..], f => f.Value);
        var reloaded = TufRepository.Load(files.GetValueOrDefault, 1, online);
        Assert.Equal(1, reloaded.VersionOf("targets"));
        Assert.Equal(["models/kws/1.bundle"], reloaded.TargetsOf().Select(t => t.Path));

        files.Remove("1.snapshot.json");
        var incomplete = Assert.Throws<TufException>(() => TufRepository.Load(files.GetValueOrDefault, 1, online));
        Assert.Contains("has no metadata file '1.snapshot.json'", incomplete.Message);
    }

    [Fact]
    public void The_next_root_is_adopted_only_when_it_is_the_next_version_signed_by_the_previous_root_keys()
    {
        var ceremony = new TufRepository();
        ceremony.Publish();
        var rootKey = ceremony.KeysOf("root")[0];
        var hub = TufRepository.FromRoot(ceremony.RootBytes, []);

        // Signed only by a new root key: the previous root's threshold is not met.
        var rogue = TufRepository.FromRoot(ceremony.RootBytes, [rootKey]);
        var newRootKey = rogue.RotateKeys("root");
        var unsigned = rogue.PublishRoot(signers: [newRootKey]);
        var e = Assert.Throws<TufException>(() => hub.ImportRoot(unsigned));
        Assert.Contains("the previous root v1", e.Message);

        // Version 3 cannot follow 1.
        var skipping = TufRepository.FromRoot(ceremony.RootBytes, [rootKey]);
        var v3 = skipping.PublishRoot(version: 3);
        Assert.Contains("cannot follow v1", Assert.Throws<TufException>(() => hub.ImportRoot(v3)).Message);

        // A proper rotation of the timestamp key.
        var proper = TufRepository.FromRoot(ceremony.RootBytes, [rootKey]);
        var newTimestamp = proper.RotateKeys("timestamp");
        hub.ImportRoot(proper.PublishRoot());
        Assert.Equal(2, hub.VersionOf("root"));
        Assert.Equal([newTimestamp.KeyId], hub.PublicKeysOf("timestamp").Select(k => k.ContentKeyId));
    }
}
