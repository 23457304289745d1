using System.Formats.Tar;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgeAgent.Hub.Provisioning.Broker;
using EdgeAgent.Hub.Provisioning.Fleet;
using EdgeAgent.Hub.Provisioning.Identity;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Hub.Provisioning.Tests.Fleet;

/// <summary>File modes and the broker tooling are Linux facts.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FleetProvisionerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgeagent-provunit-" + Guid.NewGuid().ToString("N")[..10]);

    private ProvisioningOptions Options(int? passwordPort = 8884) => new() { Directory = _root, BrokerHost = "mqtt.example.net", PasswordPort = passwordPort };

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Private_keys_are_0600_the_ca_directory_0700_and_broker_secrets_group_readable_only()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        DeviceBundle d = await p.AddDeviceAsync("pump-7");
        UnixFileMode secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(secret, File.GetUnixFileMode(Path.Combine(_root, "ca", "ca.key")));
        Assert.Equal(secret, File.GetUnixFileMode(d.KeyPath!));
        Assert.Equal(secret, File.GetUnixFileMode(p.Hub.KeyPath));
        // The broker reads its key as user 'mosquitto' through the directory's group.
        Assert.Equal(secret | UnixFileMode.GroupRead, File.GetUnixFileMode(p.Broker.ServerKeyPath));
        Assert.Equal(secret | UnixFileMode.GroupRead, File.GetUnixFileMode(p.Broker.PasswordPath));
        Assert.Equal(secret, File.GetUnixFileMode(Path.Combine(_root, "registry.json")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_root, "ca")));
    }

    [Fact]
    public async Task Device_bundle_has_a_certificate_for_its_id_signed_by_the_fleet_ca_and_an_agent_json_fragment()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        DeviceBundle d = await p.AddDeviceAsync("pump-7");
        Assert.Equal(["agent.json", "ca.crt", "device.crt", "device.key"], Directory.GetFiles(d.Directory).Select(Path.GetFileName).Order());

        using X509Certificate2 cert = X509Certificate2.CreateFromPemFile(d.CertificatePath!, d.KeyPath!);
        Assert.Equal("CN=pump-7", cert.Subject);
        Assert.True(cert.HasPrivateKey);
        using X509Certificate2 ca = X509CertificateLoader.LoadCertificateFromFile(d.CaCertificatePath);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(d.AgentConfigPath));
        Assert.Equal("pump-7", json.RootElement.GetProperty("deviceId").GetString());
        JsonElement mqtt = json.RootElement.GetProperty("mqtt");
        Assert.Equal("mqtt.example.net", mqtt.GetProperty("host").GetString());
        Assert.Equal(8883, mqtt.GetProperty("port").GetInt32());
        Assert.True(mqtt.GetProperty("useTls").GetBoolean());
        Assert.Equal("/etc/edgeagent/pki/ca.crt", mqtt.GetProperty("caFile").GetString());
        Assert.Equal("/etc/edgeagent/pki/device.crt", mqtt.GetProperty("certFile").GetString());
        Assert.Equal("/etc/edgeagent/pki/device.key", mqtt.GetProperty("keyFile").GetString());
        Assert.False(mqtt.TryGetProperty("password", out _));
    }

    [Fact]
    public async Task Password_device_gets_a_password_that_only_its_hash_is_stored_for()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        DeviceBundle d = await p.AddDeviceAsync("meter-1", DeviceAuthentication.Password);
        Assert.Null(d.CertificatePath);
        Assert.False(File.Exists(Path.Combine(d.Directory, "device.key")));
        string line = Assert.Single(await File.ReadAllLinesAsync(p.Broker.PasswordPath), l => l.Length > 0);
        Assert.StartsWith("meter-1:$7$101$", line, StringComparison.Ordinal);
        Assert.True(MosquittoPasswordHash.Verify(d.Password!, line["meter-1:".Length..]));
        Assert.DoesNotContain(d.Password!, await File.ReadAllTextAsync(Path.Combine(_root, "registry.json")), StringComparison.Ordinal);

        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(d.AgentConfigPath));
        JsonElement mqtt = json.RootElement.GetProperty("mqtt");
        Assert.Equal(8884, mqtt.GetProperty("port").GetInt32());
        Assert.Equal("meter-1", mqtt.GetProperty("username").GetString());
        Assert.Equal(d.Password, mqtt.GetProperty("password").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(d.AgentConfigPath));
    }

    [Fact]
    public async Task Our_password_hash_verifies_a_hash_written_by_mosquitto_passwd()
    {
        Directory.CreateDirectory(_root);
        string file = Path.Combine(_root, "pw");
        ChildProcess.Result r = await ChildProcess.RunAsync("mosquitto_passwd", ["-c", "-b", file, "dev-1", "s3cret-Ä"]);
        Assert.Equal(0, r.ExitCode);
        string hash = (await File.ReadAllTextAsync(file)).Trim().Split(':', 2)[1];
        Assert.StartsWith("$7$", hash, StringComparison.Ordinal);
        Assert.True(MosquittoPasswordHash.Verify("s3cret-Ä", hash));
        Assert.False(MosquittoPasswordHash.Verify("s3cret-A", hash));
    }

    [Fact]
    public async Task Adding_an_active_device_twice_is_refused_and_changes_nothing()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        DeviceBundle d = await p.AddDeviceAsync("pump-7");
        string cert = await File.ReadAllTextAsync(d.CertificatePath!);
        var e = await Assert.ThrowsAsync<ProvisioningException>(() => p.AddDeviceAsync("pump-7"));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal(cert, await File.ReadAllTextAsync(d.CertificatePath!));
        Assert.Single(await p.ListDevicesAsync());
    }

    [Fact]
    public async Task Bad_device_ids_are_refused_before_anything_is_written()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        foreach (string bad in new[] { "a/../../etc", "+", "#", "dev/1", "..", "fleet" })
        {
            await Assert.ThrowsAsync<InvalidDeviceIdException>(() => p.AddDeviceAsync(bad));
        }

        Assert.Empty(await p.ListDevicesAsync());
        Assert.False(Directory.Exists(Path.Combine(_root, "devices")) && Directory.EnumerateFileSystemEntries(Path.Combine(_root, "devices")).Any());
    }

    [Fact]
    public async Task Password_devices_are_refused_when_the_broker_has_no_password_listener()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options(passwordPort: null));
        var e = await Assert.ThrowsAsync<ProvisioningException>(() => p.AddDeviceAsync("meter-1", DeviceAuthentication.Password));
        Assert.Contains("no password listener", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("listener 8884", await File.ReadAllTextAsync(p.Broker.ConfigPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reopening_keeps_the_ca_the_hub_identity_and_the_registry()
    {
        string caBefore, hubBefore;
        using (FleetProvisioner first = await FleetProvisioner.OpenAsync(Options()))
        {
            await first.AddDeviceAsync("pump-7");
            caBefore = await File.ReadAllTextAsync(first.CaCertificatePath);
            hubBefore = await File.ReadAllTextAsync(first.Hub.CertificatePath);
        }

        using FleetProvisioner again = await FleetProvisioner.OpenAsync(Options());
        Assert.Equal(caBefore, await File.ReadAllTextAsync(again.CaCertificatePath));
        Assert.Equal(hubBefore, await File.ReadAllTextAsync(again.Hub.CertificatePath));
        Assert.Equal("pump-7", Assert.Single(await again.ListDevicesAsync()).Id);
        DeviceBundle second = await again.AddDeviceAsync("pump-8");
        using X509Certificate2 cert = X509CertificateLoader.LoadCertificateFromFile(second.CertificatePath!);
        using X509Certificate2 ca = X509Certificate2.CreateFromPem(caBefore);
        Assert.Equal(ca.Subject, cert.Issuer);
    }

    [Fact]
    public async Task A_ca_certificate_without_its_key_is_refused_instead_of_replaced()
    {
        using (await FleetProvisioner.OpenAsync(Options()))
        {
        }

        File.Delete(Path.Combine(_root, "ca", "ca.key"));
        var e = await Assert.ThrowsAsync<ProvisioningException>(() => FleetProvisioner.OpenAsync(Options()));
        Assert.Contains("ca.crt but no ca.key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_registry_is_reported_and_left_untouched()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        string registry = Path.Combine(_root, "registry.json");
        await File.WriteAllTextAsync(registry, "{ not json");
        var e = await Assert.ThrowsAsync<ProvisioningException>(() => p.AddDeviceAsync("pump-7"));
        Assert.Contains("not a valid device registry", e.Message, StringComparison.Ordinal);
        Assert.Equal("{ not json", await File.ReadAllTextAsync(registry));
    }

    [Fact]
    public async Task Two_provisioners_adding_at_the_same_time_lose_no_device()
    {
        using FleetProvisioner one = await FleetProvisioner.OpenAsync(Options());
        using FleetProvisioner two = await FleetProvisioner.OpenAsync(Options());
        Task AddMany(FleetProvisioner p, string prefix) => Task.Run(async () =>
        {
            for (int i = 0; i < 8; i++)
            {
                await p.AddDeviceAsync($"{prefix}-{i}");
            }
        });

        await Task.WhenAll(AddMany(one, "one"), AddMany(two, "two"));
        Assert.Equal(16, (await one.ListDevicesAsync()).Count);
        Assert.Equal(16, (await two.ListDevicesAsync()).Select(d => d.Id).Distinct().Count());
    }

    [Fact]
    public async Task Bundle_packs_into_a_tarball_that_keeps_the_key_private()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        DeviceBundle d = await p.AddDeviceAsync("pump-7");
        string tar = Path.Combine(_root, "pump-7.tar");
        await d.WriteTarballAsync(tar, CancellationToken.None);
        var entries = new Dictionary<string, UnixFileMode>();
        await using (FileStream stream = File.OpenRead(tar))
        {
            await using var reader = new TarReader(stream);
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                entries[entry.Name.TrimStart('.', '/')] = entry.Mode;
            }
        }

        Assert.Equal(["agent.json", "ca.crt", "device.crt", "device.key"], entries.Keys.Order());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, entries["device.key"]);
    }

    [Fact]
    public async Task Generated_acl_confines_devices_by_user_name_and_lists_the_hub_rights()
    {
        using FleetProvisioner p = await FleetProvisioner.OpenAsync(Options());
        string acl = await File.ReadAllTextAsync(p.Broker.AclPath);
        Assert.Contains("pattern readwrite edgeagent/v1/%u/#", acl, StringComparison.Ordinal);
        Assert.Contains("pattern read edgeagent/v1/fleet/hint", acl, StringComparison.Ordinal);
        Assert.Contains("user edgehub_hub", acl, StringComparison.Ordinal);
        string conf = await File.ReadAllTextAsync(p.Broker.ConfigPath);
        Assert.Contains("require_certificate true", conf, StringComparison.Ordinal);
        Assert.Contains("use_identity_as_username true", conf, StringComparison.Ordinal);
        Assert.Contains($"crlfile {p.Broker.CrlPath}", conf, StringComparison.Ordinal);
        Assert.Contains("allow_anonymous false", conf, StringComparison.Ordinal);
    }
}
