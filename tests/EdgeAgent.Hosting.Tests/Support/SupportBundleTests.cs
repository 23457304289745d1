using System.Formats.Tar;
using System.IO.Compression;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Support;
using EdgeAgent.Hosting.Tests.Support;

namespace EdgeAgent.Hosting.Tests.SupportBundles;

public sealed class SupportBundleTests
{
    private static Dictionary<string, string> ReadBundle(byte[] tgz)
    {
        var entries = new Dictionary<string, string>();
        using var gzip = new GZipStream(new MemoryStream(tgz), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } e)
        {
            using var reader = new StreamReader(e.DataStream!);
            entries[e.Name[(e.Name.IndexOf('/') + 1)..]] = reader.ReadToEnd();
        }
        return entries;
    }

    [Fact]
    public async Task The_bundle_holds_config_logs_and_state_with_secrets_redacted_everywhere()
    {
        using var dir = new TempDirectory();
        var options = AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = dir.File("agent.json", """{ "deviceId": "pump-07", "mqtt": { "host": "b", "username": "u", "password": "hunter2-secret" }, "sensors": { "kind": "synthetic" } }"""),
            ConfigFileRequired = true,
            Environment = new Dictionary<string, string?>(),
        }).GetOptionsOrThrow();
        dir.File("log/agent20261120.log", "old day\n");
        File.SetLastWriteTimeUtc(dir.Combine("log/agent20261120.log"), DateTime.UtcNow.AddDays(-2));
        dir.File("log/agent20261121.log", "connected with password hunter2-secret by mistake\n");
        dir.File("log/agent20261122.log", new string('x', 5000) + "\nlast line\n");

        var buffer = new MemoryStream();
        var names = await SupportBundle.WriteAsync(buffer, new SupportBundleContent
        {
            DeviceId = options.DeviceId,
            EffectiveConfigJson = EffectiveConfigRenderer.Render(options),
            LogDirectory = dir.Combine("log"),
            MaxLogFiles = 2,
            MaxBytesPerLogFile = 1000,
            StateSummaryJson = """{ "model": "kws", "outboxDepth": 3 }""",
            DoctorReport = "[ ok ] clock: fine\n",
            Secrets = [options.Mqtt.Password!],
        }, new ManualTimeProvider());

        var bundle = ReadBundle(buffer.ToArray());
        Assert.Equal(names.Order(), bundle.Keys.Order());
        Assert.All(bundle.Values, text => Assert.DoesNotContain("hunter2-secret", text));
        Assert.Contains(SupportBundle.Redacted, bundle["config/effective.json"]);
        Assert.Contains("\"deviceId\": \"pump-07\"", bundle["config/effective.json"]);
        Assert.Equal($"connected with password {SupportBundle.Redacted} by mistake\n", bundle["logs/agent20261121.log"]);
        Assert.StartsWith("[... first", bundle["logs/agent20261122.log"]);
        Assert.EndsWith("last line\n", bundle["logs/agent20261122.log"]);
        Assert.False(bundle.ContainsKey("logs/agent20261120.log")); // only the newest two
        Assert.Contains("outboxDepth", bundle["state/summary.json"]);
        Assert.Contains("os:", bundle["system.txt"]);
        Assert.Contains("doctor.txt", bundle.Keys);
    }

    [Fact]
    public async Task Without_logs_or_a_running_agent_the_bundle_says_so()
    {
        var buffer = new MemoryStream();
        await SupportBundle.WriteAsync(buffer, new SupportBundleContent { DeviceId = "d1", EffectiveConfigJson = "{}", LogDirectory = "/nonexistent/log" });
        var bundle = ReadBundle(buffer.ToArray());
        Assert.Contains("/nonexistent/log", bundle["logs/MISSING.txt"]);
        Assert.Contains("did not answer", bundle["state/summary.json"]);
    }
}
