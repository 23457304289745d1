using System.Collections.Concurrent;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>One running daemon (real Mosquitto, model installed, metrics on) shared by the tests of this class.</summary>
public sealed class RunningAgentFixture : IAsyncLifetime
{
    public const string Password = "pw-Zq8v-never-in-a-bundle";
    public const string KeyBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7never";

    public AgentDaemon Agent { get; } = new();
    public MosquittoBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Broker = await MosquittoBroker.StartAsync();
        // A reference profile for the synthetic accelerometer's channels (standard normal), so drift is scored.
        var reference = new EdgeAgent.Sketches.Profiles.ReferenceProfileBuilder(EdgeAgent.Sensors.Synthetic.SyntheticAccelerometer.ChannelNames, random: new Random(5));
        var random = new Random(7);
        for (int i = 0; i < 20_000; i++)
            reference.AddRow([(float)random.NextDouble() * 2 - 1, (float)random.NextDouble() * 2 - 1, (float)random.NextDouble() * 2 - 1]);
        string profile = Path.Combine(Agent.Directory, "reference.json");
        File.WriteAllBytes(profile, EdgeAgent.Sketches.Profiles.ReferenceProfileJson.Serialize(reference.Build()));
        await Agent.InstallModelAsync(confidenceThreshold: 0.6, profile);
        // A key file and a password the support bundle must never carry (the key is not used: TLS is off).
        string key = Path.Combine(Agent.Directory, "client.key");
        File.WriteAllText(key, $"-----BEGIN PRIVATE KEY-----\n{KeyBody}\n-----END PRIVATE KEY-----\n");
        Agent.WriteConfig(Broker.Port, $$"""
            ,
              "cloud": { "enabled": false },
              "logging": { "level": "Debug" }
            """);
        string config = File.ReadAllText(Agent.ConfigPath).Replace("\"keepAlive\": \"5s\"",
            $"\"keepAlive\": \"5s\", \"username\": \"press-17\", \"password\": \"{Password}\", \"keyFile\": \"{key}\", \"certFile\": \"{key}\"");
        File.WriteAllText(Agent.ConfigPath, config);
        Agent.Start();
        await Agent.WaitForStatusAsync(a => AgentDaemon.Inference(a, "windows") >= 3, "inference running");
    }

    public async Task DisposeAsync()
    {
        await Agent.DisposeAsync();
        await Broker.DisposeAsync();
    }
}

/// <summary>
/// Issue 6 verbs and outputs of the running daemon: the retained status topic, the Prometheus scrape, <c>models show</c>,
/// <c>drift show</c>, <c>predict</c> against the running model, and <c>support-bundle</c> (secrets redacted).
/// </summary>
public sealed class ServiceVerbsTests(RunningAgentFixture fixture) : IClassFixture<RunningAgentFixture>
{
    private AgentDaemon Agent => fixture.Agent;

    [Fact]
    public async Task Status_is_retained_on_the_status_topic_with_model_health_boot_and_update_state()
    {
        var received = new ConcurrentQueue<MqttApplicationMessage>();
        await using var hub = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", fixture.Broker.Port), ClientId = "status-reader" });
        hub.MessageHandler = (m, _) => { received.Enqueue(m); return ValueTask.CompletedTask; };
        await hub.ConnectAsync();
        await hub.SubscribeAsync("edgeagent/v1/press-17/status");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(100);

        Assert.True(received.TryPeek(out var message), "no retained status: " + Agent.Log);
        Assert.True(message.Retain);
        var status = JsonDocument.Parse(message.Payload).RootElement;
        Assert.True(status.GetProperty("online").GetBoolean());
        Assert.Equal("activity@1.0.0", status.GetProperty("activeModel").GetString());
        Assert.Equal("a", status.GetProperty("model").GetProperty("slot").GetString());
        Assert.Equal("activity", status.GetProperty("model").GetProperty("name").GetString());
        Assert.Equal("idle", status.GetProperty("updateState").GetString());
        Assert.True(status.GetProperty("health").GetProperty("ready").GetBoolean());
        Assert.False(string.IsNullOrEmpty(status.GetProperty("bootId").GetString()));
        Assert.False(string.IsNullOrEmpty(status.GetProperty("agentVersion").GetString()));
        Assert.True(status.TryGetProperty("ts", out _));
    }

    [Fact]
    public async Task Metrics_scrape_shows_the_running_pipeline_outbox_mqtt_and_update_state()
    {
        string text = "";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            text = await ScrapeAsync(Agent.MetricsPort);
            if (text.Contains("edgeagent_mqtt_connected 1", StringComparison.Ordinal)
                && text.Contains("edgeagent_inference_latency_seconds_count{model=\"activity@1.0.0\"}", StringComparison.Ordinal)
                && !text.Contains("edgeagent_inference_latency_seconds_count{model=\"activity@1.0.0\"} 0\n", StringComparison.Ordinal)) break;
            await Task.Delay(500);
        } while (DateTime.UtcNow < deadline);

        Assert.Contains("edgeagent_mqtt_connected 1", text);
        Assert.Contains("edgeagent_inference_latency_seconds_bucket{model=\"activity@1.0.0\",le=\"+Inf\"}", text);
        Assert.Contains("edgeagent_result_commit_latency_seconds_bucket{model=\"activity@1.0.0\",le=\"+Inf\"}", text);
        Assert.Contains("edgeagent_inferences_total{model=\"activity@1.0.0\",outcome=\"local\"}", text);
        Assert.Contains("edgeagent_inferences_total{model=\"activity@1.0.0\",outcome=\"fallback\"}", text);
        Assert.Contains("edgeagent_inferences_total{model=\"activity@1.0.0\",outcome=\"bad\"}", text);
        Assert.Contains("edgeagent_fallback_rate{model=\"activity@1.0.0\"}", text);
        Assert.Contains("edgeagent_update_state{state=\"idle\"} 1", text);
        Assert.Contains("edgeagent_outbox_depth ", text);
        Assert.Contains("edgeagent_outbox_bytes ", text);
        Assert.Contains("edgeagent_cloud_circuit_open 0", text);
        long decided = SampleSum(text, "edgeagent_inferences_total{model=\"activity@1.0.0\"");
        Assert.True(decided > 0, text);
    }

    [Fact]
    public async Task Models_show_describes_the_served_family_and_names_the_installed_ones_for_an_unknown_name()
    {
        var r = await AgentDaemon.Ok(Agent.CliAsync("models", "show", "activity", "--json"));
        var m = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.True(m.GetProperty("serving").GetBoolean());
        Assert.Equal("1.0.0", m.GetProperty("version").GetString());
        Assert.Equal(["idle", "walk", "run", "vibration_fault"], m.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToArray());
        Assert.Equal(128, m.GetProperty("windowing").GetProperty("length").GetInt32());

        var human = await AgentDaemon.Ok(Agent.CliAsync("models", "show", "activity"));
        Assert.Contains("3 channels x 128 samples", human.Stdout);

        var unknown = await Agent.CliAsync("models", "show", "nope");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no model family 'nope'", unknown.Stderr);
        Assert.Contains("installed: activity", unknown.Stderr);
    }

    [Fact]
    public async Task Drift_show_reports_each_input_feature_from_the_pipelines_drift_monitor()
    {
        JsonElement drift = default;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            var r = await AgentDaemon.Ok(Agent.CliAsync("drift", "show", "--json"));
            drift = JsonDocument.Parse(r.Stdout).RootElement;
            if (drift.GetProperty("snapshots").GetInt64() > 0) break;
            await Task.Delay(500);
        } while (DateTime.UtcNow < deadline);

        Assert.Equal("activity@1.0.0", drift.GetProperty("model").GetString());
        Assert.True(drift.GetProperty("referenceProfile").GetBoolean());
        var features = drift.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(["ax", "ay", "az"], features.Select(f => f.GetProperty("feature").GetString()!).ToArray());
        Assert.All(features, f =>
        {
            Assert.True(f.GetProperty("count").GetInt64() > 0);
            Assert.Equal(JsonValueKind.Number, f.GetProperty("psi").ValueKind);
            Assert.Equal(JsonValueKind.Number, f.GetProperty("ks").ValueKind);
            Assert.Equal(JsonValueKind.Number, f.GetProperty("w1").ValueKind);
            Assert.NotEqual(0, f.GetProperty("psiHistory").GetArrayLength());
        });
        string metrics = await ScrapeAsync(Agent.MetricsPort);
        foreach (string statistic in new[] { "psi", "ks", "w1" })
            Assert.Contains($"edgeagent_drift_score{{model=\"activity@1.0.0\",feature=\"ax\",statistic=\"{statistic}\"}}", metrics);
        var human = await AgentDaemon.Ok(Agent.CliAsync("drift", "show"));
        Assert.Contains("drift snapshot(s)", human.Stdout);
        Assert.Contains(features[0].GetProperty("feature").GetString()!, human.Stdout);
    }

    [Fact]
    public async Task Predict_runs_one_window_on_the_running_model_and_refuses_a_window_of_the_wrong_size()
    {
        string csv = Path.Combine(Agent.Directory, "window.csv");
        var rows = Enumerable.Range(0, 128).Select(i => $"{Math.Sin(i / 5.0):0.000},{Math.Cos(i / 7.0):0.000},{(i % 10) / 10.0:0.0}");
        File.WriteAllLines(csv, rows);
        var r = await AgentDaemon.Ok(Agent.CliAsync("predict", "--window", csv, "--json"));
        var answer = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Contains(answer.GetProperty("label").GetString(), new[] { "idle", "walk", "run", "vibration_fault" });
        Assert.Equal(4, answer.GetProperty("probabilities").GetArrayLength());
        Assert.Equal("activity", answer.GetProperty("model").GetString());
        float sum = answer.GetProperty("probabilities").EnumerateArray().Sum(p => p.GetProperty("p").GetSingle());
        Assert.InRange(sum, 0.99f, 1.01f);

        string shortWindow = Path.Combine(Agent.Directory, "short.json");
        File.WriteAllText(shortWindow, "[1, 2, 3]");
        var bad = await Agent.CliAsync("predict", "--window", shortWindow);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("takes 384 values", bad.Stderr);
        Assert.Contains("got 3", bad.Stderr);

        string garbage = Path.Combine(Agent.Directory, "garbage.csv");
        File.WriteAllText(garbage, "1,2,3\n4,five,6\n");
        var unparsable = await Agent.CliAsync("predict", "--window", garbage);
        Assert.Equal(1, unparsable.ExitCode);
        Assert.Contains("line 2: 'five' is not a number", unparsable.Stderr);
    }

    [Fact]
    public async Task Support_bundle_holds_config_logs_state_listing_and_snapshots_but_no_password_or_private_key()
    {
        string output = Path.Combine(Agent.Directory, "bundle.tar.gz");
        var r = await AgentDaemon.Ok(Agent.CliAsync("support-bundle", "--out", output, "--json"));
        var report = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.True(report.GetProperty("agentAnswered").GetBoolean(), r.Stdout);

        var entries = new Dictionary<string, string>();
        await using (var file = File.OpenRead(output))
        await using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        {
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.DataStream is null) continue;
                using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
                entries[entry.Name[(entry.Name.IndexOf('/') + 1)..]] = reader.ReadToEnd();
            }
        }
        Assert.Contains("config/effective.json", entries.Keys);
        Assert.Contains("state/listing.txt", entries.Keys);
        Assert.Contains("state/agent.status.json", entries.Keys);
        Assert.Contains("state/models.list.json", entries.Keys);
        Assert.Contains("metrics.txt", entries.Keys);
        Assert.Contains("doctor.txt", entries.Keys);
        Assert.Contains(entries.Keys, k => k.StartsWith("logs/", StringComparison.Ordinal) && k != "logs/MISSING.txt");
        Assert.Contains("outbox.db", entries["state/listing.txt"]);
        Assert.Contains("edgeagent_inferences_total", entries["metrics.txt"]);
        Assert.Contains("***redacted***", entries["config/effective.json"]);
        foreach (var (name, text) in entries)
        {
            Assert.DoesNotContain(RunningAgentFixture.Password, text);
            Assert.DoesNotContain(RunningAgentFixture.KeyBody, text);
            Assert.False(text.Contains("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal), name);
        }
    }

    private static async Task<string> ScrapeAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
        using var reader = new StreamReader(stream);
        string response = await reader.ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 200", response);
        return response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
    }

    private static long SampleSum(string text, string prefix) => text.Split('\n')
        .Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
        .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
}
