using System.Formats.Tar;
using System.Text.Json;
using EdgeAgent.Hub.Storage;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Cli;

/// <summary>
/// <c>edgehub devices add|list|revoke</c> and <c>edgehub broker config</c>, run as the real executable
/// (child process) against a real SQLite store and a real provisioning directory.
/// </summary>
public sealed class DeviceCommandsTests : IDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
    private readonly string _dir = Directory.CreateTempSubdirectory("edgehub-cli-").FullName;

    private string Pki => Path.Combine(_dir, "pki");

    private string StorePath => Path.Combine(_dir, "hub.db");

    private Task<ChildProcess.Result> Edgehub(params string[] args) =>
        ChildProcess.RunAsync("dotnet", [Dll, .. args], timeout: TimeSpan.FromMinutes(1));

    private Task<ChildProcess.Result> Add(string id, params string[] extra) =>
        Edgehub(["devices", "add", id, "--pki", Pki, "--broker-host", "mqtt.example.net", "--store", "sqlite:" + StorePath, .. extra]);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Devices_add_writes_the_bundle_tarball_registers_the_labelled_device_and_audits_it()
    {
        var tar = Path.Combine(_dir, "pump-7.tar");
        var r = await Add("pump-7", "--label", "site=berlin", "--label", "line=3", "--output", tar);
        Assert.True(r.ExitCode == 0, r.StandardError);
        Assert.Contains("device pump-7 (certificate) provisioned", r.StandardOutput);

        var entries = new Dictionary<string, byte[]>();
        await using (var file = File.OpenRead(tar))
        {
            using var reader = new TarReader(file);
            while (reader.GetNextEntry() is { } e)
            {
                if (e.DataStream is null) continue;
                using var ms = new MemoryStream();
                e.DataStream.CopyTo(ms);
                entries[e.Name.TrimStart('.', '/')] = ms.ToArray();
                if (e.Name.EndsWith("device.key", StringComparison.Ordinal))
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, e.Mode);
            }
        }

        Assert.Equal(["agent.json", "ca.crt", "device.crt", "device.key"], entries.Keys.Order(StringComparer.Ordinal));
        using var agent = JsonDocument.Parse(entries["agent.json"]);
        Assert.Equal("pump-7", agent.RootElement.GetProperty("deviceId").GetString());
        Assert.Equal("mqtt.example.net", agent.RootElement.GetProperty("mqtt").GetProperty("host").GetString());
        using var cert = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(entries["device.crt"]);
        Assert.Contains("CN=pump-7", cert.Subject);

        await using var store = new SqliteHubStore(StorePath);
        var device = await store.GetDeviceAsync("pump-7");
        Assert.NotNull(device);
        Assert.Equal("berlin", device.Labels["site"]);
        Assert.Equal("3", device.Labels["line"]);
        Assert.Null(device.RevokedAt);
        var audit = Assert.Single(await store.ListAuditAsync(10), a => a.Action == "devices add");
        Assert.StartsWith("cli", audit.Actor);
        Assert.Equal("pump-7", audit.Target);
        Assert.Contains("site=berlin", audit.Detail);
    }

    [Fact]
    public async Task A_revoked_device_is_listed_as_revoked_and_marked_in_the_store_with_an_audit_row()
    {
        Assert.Equal(0, (await Add("pump-1")).ExitCode);
        var meter = await Add("meter-1", "--auth", "password");
        Assert.True(meter.ExitCode == 0, meter.StandardError);
        Assert.Contains("password (shown once):", meter.StandardOutput);
        Assert.Contains("broker not reloaded", meter.StandardOutput);

        var revoke = await Edgehub("devices", "revoke", "pump-1", "--pki", Pki, "--store", "sqlite:" + StorePath);
        Assert.True(revoke.ExitCode == 0, revoke.StandardError);
        Assert.Contains("device pump-1 revoked", revoke.StandardOutput);

        var list = await Edgehub("devices", "list", "--pki", Pki, "--store", "sqlite:" + StorePath);
        Assert.True(list.ExitCode == 0, list.StandardError);
        var lines = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var pump = Assert.Single(lines, l => l.StartsWith("pump-1 ", StringComparison.Ordinal));
        Assert.Contains("revoked", pump);
        Assert.Contains("certificate", pump);
        var meterLine = Assert.Single(lines, l => l.StartsWith("meter-1 ", StringComparison.Ordinal));
        Assert.Contains("active", meterLine);
        Assert.Contains("password", meterLine);

        await using var store = new SqliteHubStore(StorePath);
        Assert.NotNull((await store.GetDeviceAsync("pump-1"))!.RevokedAt);
        Assert.Null((await store.GetDeviceAsync("meter-1"))!.RevokedAt);
        var audit = Assert.Single(await store.ListAuditAsync(10), a => a.Action == "devices revoke");
        Assert.Equal("pump-1", audit.Target);
        Assert.Contains("CRL", audit.Detail);
        Assert.Contains(File.ReadAllLines(Path.Combine(Pki, "registry.json")), l => l.Contains("pump-1"));
    }

    [Fact]
    public async Task A_revoked_id_provisioned_again_is_active_in_the_store_again()
    {
        Assert.Equal(0, (await Add("pump-2", "--label", "site=a")).ExitCode);
        Assert.Equal(0, (await Edgehub("devices", "revoke", "pump-2", "--pki", Pki, "--store", "sqlite:" + StorePath)).ExitCode);
        var again = await Add("pump-2", "--label", "site=b");
        Assert.True(again.ExitCode == 0, again.StandardError);

        await using var store = new SqliteHubStore(StorePath);
        var device = (await store.GetDeviceAsync("pump-2"))!;
        Assert.Null(device.RevokedAt);
        Assert.Equal("b", device.Labels["site"]);
        var list = await Edgehub("devices", "list", "--pki", Pki, "--store", "sqlite:" + StorePath);
        Assert.Contains("active", Assert.Single(list.StandardOutput.Split('\n'), l => l.StartsWith("pump-2 ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("Pump_7", "pump_7")]
    [InlineData("fleet", "reserved")]
    [InlineData("a/b", "/")]
    public async Task A_bad_device_id_is_one_line_exit_1_and_nothing_is_registered(string id, string reasonFragment)
    {
        var r = await Add(id);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("edgehub devices add:", line);
        Assert.Contains(reasonFragment, line, StringComparison.OrdinalIgnoreCase);
        await using var store = new SqliteHubStore(StorePath);
        Assert.Empty(await store.ListDevicesAsync());
        Assert.DoesNotContain(await store.ListAuditAsync(10), a => a.Action == "devices add");
    }

    [Fact]
    public async Task A_duplicate_device_is_refused_with_one_line_and_keeps_its_labels()
    {
        Assert.Equal(0, (await Add("pump-3", "--label", "site=a")).ExitCode);
        var dup = await Add("pump-3", "--label", "site=z");
        Assert.Equal(1, dup.ExitCode);
        var line = Assert.Single(dup.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("pump-3", line);
        await using var store = new SqliteHubStore(StorePath);
        Assert.Equal("a", (await store.GetDeviceAsync("pump-3"))!.Labels["site"]);
        Assert.Single(await store.ListAuditAsync(10), a => a.Action == "devices add");
    }

    [Theory]
    [InlineData(new[] { "--label", "site" }, "not KEY=VALUE")]
    [InlineData(new[] { "--label", "a=1", "--label", "a=2" }, "given twice")]
    [InlineData(new[] { "--auth", "token" }, "not one of certificate, password")]
    [InlineData(new[] { "--output", "/nonexistent-dir/x.tar" }, "does not exist")]
    public async Task Bad_options_are_refused_before_anything_is_provisioned(string[] extra, string message)
    {
        var r = await Add("pump-4", extra);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, Assert.Single(r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(Directory.Exists(Path.Combine(Pki, "devices", "pump-4")));
        Assert.False(File.Exists(StorePath) && (await ListStoreAsync()).Count > 0);
    }

    [Fact]
    public async Task Revoking_an_unknown_device_or_with_an_unsignallable_broker_says_what_happened()
    {
        var unknown = await Edgehub("devices", "revoke", "ghost-1", "--pki", Pki, "--store", "sqlite:" + StorePath);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("No device 'ghost-1'", unknown.StandardError);

        Assert.Equal(0, (await Add("pump-5")).ExitCode);
        var pid = Path.Combine(_dir, "missing.pid");
        var r = await Edgehub("devices", "revoke", "pump-5", "--pki", Pki, "--store", "sqlite:" + StorePath, "--broker-pid-file", pid);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("revocation is saved, but the broker was not reloaded", r.StandardError);
        await using var store = new SqliteHubStore(StorePath);
        Assert.NotNull((await store.GetDeviceAsync("pump-5"))!.RevokedAt);
    }

    [Fact]
    public async Task A_pid_file_given_once_stays_in_mosquitto_conf_and_later_revocations_use_it()
    {
        var pid = Path.Combine(_dir, "mosquitto.pid");
        Assert.Equal(0, (await Add("pump-6", "--broker-pid-file", pid)).ExitCode);
        var conf = Path.Combine(Pki, "broker", "mosquitto.conf");
        Assert.Contains($"pid_file {pid}", File.ReadAllText(conf));

        Assert.Equal(0, (await Edgehub("devices", "list", "--pki", Pki, "--store", "sqlite:" + StorePath)).ExitCode);
        Assert.Contains($"pid_file {pid}", File.ReadAllText(conf));

        // No broker runs with that pid file: the revocation is kept and the failed reload is reported.
        var revoke = await Edgehub("devices", "revoke", "pump-6", "--pki", Pki, "--store", "sqlite:" + StorePath);
        Assert.Equal(1, revoke.ExitCode);
        Assert.Contains("revocation is saved, but the broker was not reloaded", revoke.StandardError);
    }

    [Fact]
    public async Task Broker_config_prints_the_generated_mosquitto_conf()
    {
        var r = await Edgehub("broker", "config", "--pki", Pki);
        Assert.True(r.ExitCode == 0, r.StandardError);
        var path = r.StandardOutput.Trim();
        Assert.Equal(Path.Combine(Pki, "broker", "mosquitto.conf"), path);
        Assert.Contains("acl_file", File.ReadAllText(path));

        var missing = await Edgehub("broker", "config");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("--pki is required", missing.StandardError);
    }

    private async Task<IReadOnlyList<DeviceRecord>> ListStoreAsync()
    {
        await using var store = new SqliteHubStore(StorePath);
        await store.MigrateAsync();
        return await store.ListDevicesAsync();
    }
}
