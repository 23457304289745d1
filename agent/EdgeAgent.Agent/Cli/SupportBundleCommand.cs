using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Doctor;
using EdgeAgent.Hosting.Support;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent support-bundle [--out F]</c>: a tar.gz to attach to a ticket — the effective configuration with
/// secrets redacted, the newest log files, a listing of the state directory (names and sizes only), the running
/// agent's status/models/outbox/drift answers, a metrics scrape, and the doctor report. Secret values from the
/// configuration and PEM private key blocks are scrubbed from every entry; key files are never read.
/// Works when the agent is down too (the snapshots then say it did not answer). Exit 0 written, 1 failed.
/// </summary>
internal static class SupportBundleCommand
{
    private static readonly string[] ControlSnapshots = ["agent.status", BuiltInCommands.HostStatus, "models.list", "telemetry.stats", "drift.show"];

    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var json = StatusCommand.JsonOption();
        var output = new Option<FileInfo?>("--out", "-o") { Description = "bundle file to write (default ./edgeagent-support-<device>-<time>.tar.gz)" };
        var command = new Command("support-bundle", "Write a tar.gz of redacted configuration, logs, state listing, status and metrics for support") { config, output, json };
        CliRunner.SetAction(command, async (parse, ct) =>
        {
            var sources = ConfigCommand.Sources(parse.GetValue(config), []);
            var loaded = AgentConfiguration.Load(sources, SensorsSection.Validate);
            var options = loaded.Options;
            string device = options?.DeviceId ?? "unknown";
            var time = DateTimeOffset.UtcNow;
            string path = parse.GetValue(output)?.FullName ?? Path.GetFullPath($"edgeagent-support-{device}-{time:yyyyMMddTHHmmssZ}.tar.gz");

            using var progress = new TerminalProgress("support-bundle", ControlSnapshots.Length + 12);
            var snapshots = new List<KeyValuePair<string, string>>();
            if (options is not null)
            {
                var client = new ControlClient(options.ControlSocketPath, TimeSpan.FromSeconds(10));
                foreach (string name in ControlSnapshots)
                {
                    progress.Step($"asking the agent: {name}");
                    snapshots.Add(new($"state/{name}.json", await AskAsync(client, name, ct)));
                }
                progress.Step("scraping metrics");
                snapshots.Add(new("metrics.txt", await ScrapeMetricsAsync(options.Metrics, ct)));
            }
            progress.Step("running doctor");
            var doctor = await DoctorCommand.RunChecksAsync(sources, loaded, ct);

            var content = new SupportBundleContent
            {
                DeviceId = device,
                EffectiveConfigJson = options is not null ? EffectiveConfigRenderer.Render(options)
                    : loaded.Configuration is { } raw ? EffectiveConfigRenderer.RenderRaw(raw)
                    : $"{{ \"error\": \"the configuration could not be read: {JsonEncodedText.Encode(string.Join("; ", loaded.Problems))}\" }}",
                LogDirectory = options is null ? null : Path.GetDirectoryName(options.Logging.FilePath),
                StateSummaryJson = snapshots.FirstOrDefault(s => s.Key == "state/agent.status.json").Value,
                DoctorReport = DoctorRunner.Format(doctor),
                StateListing = options is null ? null : SupportBundle.ListDirectory(options.StateDirectory),
                Snapshots = snapshots,
                Secrets = SecretValues(loaded),
                Progress = entry => progress.Step(entry),
            };
            // Temp file + rename: an interrupted run never leaves a truncated bundle under the final name.
            string temp = path + ".partial";
            IReadOnlyList<string> entries;
            await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                entries = await SupportBundle.WriteAsync(file, content, cancellationToken: ct);
            File.Move(temp, path, overwrite: true);
            long bytes = new FileInfo(path).Length;
            progress.Dispose();

            if (parse.GetValue(json))
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("path", path);
                    w.WriteNumber("bytes", bytes);
                    w.WriteBoolean("agentAnswered", snapshots.Any(s => s.Key == "state/agent.status.json" && !s.Value.Contains("\"error\"", StringComparison.Ordinal)));
                    w.WriteStartArray("entries");
                    foreach (var e in entries) w.WriteStringValue(e);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            else Console.Out.WriteLine($"wrote {path} ({bytes} bytes, {entries.Count} entries)");
            return CliRunner.Ok;
        });
        return command;
    }

    /// <summary>Every value under a secret-looking key of the merged configuration (file, environment, overrides).</summary>
    private static List<string> SecretValues(AgentConfigurationResult loaded)
    {
        var secrets = new List<string>();
        if (loaded.Options?.Mqtt.Password is { } password) secrets.Add(password);
        if (loaded.Configuration is { } config)
            foreach (var (key, value) in config.AsEnumerable())
                if (value is { Length: > 0 } && EffectiveConfigRenderer.IsSecretKey(key[(key.LastIndexOf(':') + 1)..])) secrets.Add(value);
        return secrets;
    }

    private static async Task<string> AskAsync(ControlClient client, string command, CancellationToken ct)
    {
        try
        {
            var response = await client.SendAsync(command, cancellationToken: ct);
            if (response.Ok && response.Result is { } result)
                return result.GetRawText();
            return ErrorJson(response.Error?.Message ?? "failed");
        }
        catch (ControlClientException e)
        {
            string why = e.InnerException is SocketException ? "the agent is not running or not reachable" : e.Message;
            return ErrorJson(why);
        }
    }

    private static string ErrorJson(string message) => $"{{ \"error\": \"{JsonEncodedText.Encode(message)}\" }}";

    /// <summary>GET /metrics from the agent's own exporter (loopback by default).</summary>
    private static async Task<string> ScrapeMetricsAsync(MetricsOptions metrics, CancellationToken ct)
    {
        if (!metrics.Enabled) return "# metrics are disabled (metrics.enabled = false)\n";
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(5));
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(metrics.Bind, metrics.Port, cts.Token);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: {metrics.Bind}\r\nConnection: close\r\n\r\n"), cts.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string response = await reader.ReadToEndAsync(cts.Token);
            int body = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return body >= 0 ? response[(body + 4)..] : response;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return $"# could not scrape http://{metrics.Bind}:{metrics.Port}/metrics: {e.Message}\n";
        }
    }
}

