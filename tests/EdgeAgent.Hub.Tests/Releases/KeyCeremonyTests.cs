using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Releases;
using EdgeAgent.TestSupport.Mosquitto;
using EdgeAgent.Trust.Metadata;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary><c>edgehub keys init</c>: where keys go, who can read them, and what is refused.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class KeyCeremonyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgehub-keys-").FullName;

    [Fact]
    public void Init_keeps_root_keys_offline_and_online_keys_with_a_root_signed_by_the_threshold()
    {
        var result = KeyCeremony.Init(_dir, new KeyInitOptions(RootKeys: 3, RootThreshold: 2, RootExpiresDays: 30));

        var offline = Path.Combine(_dir, "offline");
        var online = Path.Combine(_dir, "online");
        Assert.Equal(["1.root.json", "root-1.pem", "root-2.pem", "root-3.pem"], Directory.GetFiles(offline).Select(Path.GetFileName).Order());
        Assert.Equal(["1.root.json", "assignments.pem", "snapshot.pem", "targets.pem", "timestamp.pem"], Directory.GetFiles(online).Select(Path.GetFileName).Order());
        foreach (var key in Directory.GetFiles(offline, "*.pem").Concat(Directory.GetFiles(online, "*.pem")))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(TrustKeyLayout.PrivateDirectory, File.GetUnixFileMode(offline));
        Assert.Equal(TrustKeyLayout.PrivateDirectory, File.GetUnixFileMode(online));

        var root = SignedMetadata<RootMetadata>.Parse(File.ReadAllBytes(result.RootFile), static (j, w) => new RootMetadata(j, w), "root");
        Assert.Equal(1, root.Signed.Version);
        Assert.Equal(2, root.Signed.Roles["root"].Threshold);
        Assert.Equal(result.RootKeyIds.Order(), root.Signed.Roles["root"].KeyIds.Order());
        Assert.Equal(3, root.Signatures.Count);
        Assert.InRange(root.Signed.Expires, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));
        foreach (var role in new[] { "targets", "snapshot", "timestamp" })
            Assert.Equal([result.OnlineKeyIds[role]], root.Signed.Roles[role].KeyIds);
        Assert.DoesNotContain(result.OnlineKeyIds["assignments"], root.Signed.Keys.Keys); // delegated by targets, not by root
        var rootKey = File.ReadAllText(Path.Combine(offline, "root-1.pem"));
        Assert.DoesNotContain(Directory.GetFiles(online), f => File.ReadAllText(f).Contains(rootKey, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(2, 3, 365, "--root-threshold 3 is more than --root-keys 2")]
    [InlineData(0, 1, 365, "--root-keys 0 must be between 1 and 32")]
    [InlineData(1, 0, 365, "--root-threshold 0 must be at least 1")]
    [InlineData(1, 1, 0, "--expires-days 0 must be between 1 and 3650")]
    public void Init_refuses_unusable_options_and_writes_nothing(int keys, int threshold, int days, string message)
    {
        var e = Assert.Throws<TrustKeyException>(() => KeyCeremony.Init(_dir, new KeyInitOptions(keys, threshold, days)));
        Assert.Contains(message, e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void Init_never_overwrites_existing_keys()
    {
        KeyCeremony.Init(_dir, new KeyInitOptions());
        var before = File.ReadAllText(Path.Combine(_dir, "online", "targets.pem"));
        var e = Assert.Throws<TrustKeyException>(() => KeyCeremony.Init(_dir, new KeyInitOptions()));
        Assert.Contains("already exists and is not empty; keys are never overwritten", e.Message);
        Assert.Equal(before, File.ReadAllText(Path.Combine(_dir, "online", "targets.pem")));
    }

    [Fact]
    public async Task Serve_refuses_a_trust_directory_with_a_missing_key_a_readable_key_or_a_root_key()
    {
        KeyCeremony.Init(_dir, new KeyInitOptions());
        var online = Path.Combine(_dir, "online");
        async Task<string> RefusedAsync()
        {
            var e = await Assert.ThrowsAsync<HubConfigurationException>(() =>
                HubHost.BuildAsync(new HubOptions { Store = "sqlite:" + Path.Combine(_dir, "hub.db"), TrustDirectory = online }));
            return e.Message;
        }

        File.SetUnixFileMode(Path.Combine(online, "snapshot.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Contains("snapshot.pem' is readable by other users (mode 640); run 'chmod 600", await RefusedAsync());
        File.SetUnixFileMode(Path.Combine(online, "snapshot.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        File.Copy(Path.Combine(_dir, "offline", "root-1.pem"), Path.Combine(online, "root-1.pem"));
        Assert.Contains("is a root private key inside the online trust directory; root keys must stay offline", await RefusedAsync());
        File.Delete(Path.Combine(online, "root-1.pem"));

        File.Move(Path.Combine(online, "timestamp.pem"), Path.Combine(_dir, "timestamp.pem"));
        Assert.Contains("timestamp.pem' is missing: the timestamp key", await RefusedAsync());
        File.Move(Path.Combine(_dir, "timestamp.pem"), Path.Combine(online, "timestamp.pem"));

        // Keys of another ceremony do not match this root.
        var other = Path.Combine(_dir, "other");
        KeyCeremony.Init(other, new KeyInitOptions());
        File.Copy(Path.Combine(other, "online", "targets.pem"), Path.Combine(online, "targets.pem"), overwrite: true);
        Assert.Contains("is not a targets key of 1.root.json", await RefusedAsync());
    }

    [Fact]
    public async Task Keys_init_command_writes_the_layout_and_refuses_bad_options_with_one_line()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        var ok = await ChildProcess.RunAsync("dotnet", [dll, "keys", "init", "--out", Path.Combine(_dir, "k"), "--root-keys", "2", "--root-threshold", "2"]);
        Assert.True(ok.ExitCode == 0, ok.StandardError);
        Assert.Contains("Move " + Path.Combine(_dir, "k", "offline") + " to offline storage now", ok.StandardOutput);
        Assert.True(File.Exists(Path.Combine(_dir, "k", "offline", "root-2.pem")));

        var bad = await ChildProcess.RunAsync("dotnet", [dll, "keys", "init", "--out", Path.Combine(_dir, "bad"), "--root-keys", "1", "--root-threshold", "2"]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("edgehub keys init: --root-threshold 2 is more than --root-keys 1: the root could never be signed", bad.StandardError.Trim());
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }

    [Fact]
    public async Task Serve_refuses_unusable_release_options_with_one_clear_line()
    {
        KeyCeremony.Init(_dir, new KeyInitOptions());
        var dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        string[] serve = [dll, "serve", "--store", "sqlite:" + Path.Combine(_dir, "hub.db"), "--urls", "http://127.0.0.1:1", "--trust-dir", Path.Combine(_dir, "online")];

        var unit = await ChildProcess.RunAsync("dotnet", [.. serve, "--timestamp-expiry", "1x"]);
        Assert.Equal(1, unit.ExitCode);
        Assert.Contains("--timestamp-expiry '1x' is not a duration: write a positive number and a unit s, m, h or d (e.g. 12h)", unit.StandardError);

        var interval = await ChildProcess.RunAsync("dotnet", [.. serve, "--resign-interval", "13h"]);
        Assert.Equal(1, interval.ExitCode);
        Assert.Contains("--resign-interval 13:00:00 must be under half of --timestamp-expiry 1.00:00:00", interval.StandardError);

        var missing = await ChildProcess.RunAsync("dotnet", [dll, "serve", "--store", "sqlite:" + Path.Combine(_dir, "hub.db"), "--urls", "http://127.0.0.1:1", "--trust-dir", Path.Combine(_dir, "nope")]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("--trust-dir '" + Path.Combine(_dir, "nope") + "' does not exist; create keys with 'edgehub keys init --out DIR' and pass DIR/online", missing.StandardError);
        Assert.False(File.Exists(Path.Combine(_dir, "hub.db")));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
