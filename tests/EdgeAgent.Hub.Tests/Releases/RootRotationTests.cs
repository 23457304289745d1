using EdgeAgent.Hub.Cli;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Trust.Metadata;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary><c>edgehub keys rotate-root</c>: the next root signed offline, adopted by the hub at start, followed by devices.</summary>
public sealed class RootRotationTests
{
    [Fact]
    public async Task A_rotated_root_with_a_new_timestamp_key_is_published_and_devices_follow_it()
    {
        await using var hub = await ReleaseHub.StartAsync();
        await using var device = await TestDevice.CreateAsync(hub, "dev-1");
        var client = device.NewTufClient();
        await client.RefreshAsync(default);
        var oldTimestampKey = client.Trusted!.Root.Signed.Roles["timestamp"].KeyIds.Single();

        var written = RootRotation.Rotate(Path.Combine(hub.KeysDirectory, "offline"), hub.OnlineDirectory, ["timestamp"], 400, TimeProvider.System);
        Assert.EndsWith("2.root.json", written);
        await hub.RestartAsync();

        Assert.NotNull(await hub.Store.GetTufMetadataAsync("2.root.json"));
        var follower = device.NewTufClient();
        await follower.RefreshAsync(default);
        Assert.Equal(2, follower.Trusted!.Root.Signed.Version);
        var newTimestampKey = follower.Trusted.Root.Signed.Roles["timestamp"].KeyIds.Single();
        Assert.NotEqual(oldTimestampKey, newTimestampKey);
        Assert.Equal(newTimestampKey, follower.Trusted.Timestamp!.Signatures.Single().KeyId);
    }

    [Fact]
    public void Rotation_refuses_roles_it_cannot_rotate_and_a_directory_without_root_keys()
    {
        var dir = Directory.CreateTempSubdirectory("edgehub-rot-").FullName;
        try
        {
            KeyCeremony.Init(dir, new KeyInitOptions());
            var online = Path.Combine(dir, "online");
            var e = Assert.Throws<TrustKeyException>(() => RootRotation.Rotate(Path.Combine(dir, "offline"), online, ["root"], 365, TimeProvider.System));
            Assert.Contains("--rotate 'root': only targets, snapshot and timestamp keys are rotated here", e.Message);
            var noKeys = Assert.Throws<TrustKeyException>(() => RootRotation.Rotate(online, online, [], 365, TimeProvider.System));
            Assert.Contains("holds no root-N.pem; it is not the offline directory", noKeys.Message);
            Assert.False(File.Exists(Path.Combine(online, "2.root.json")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
