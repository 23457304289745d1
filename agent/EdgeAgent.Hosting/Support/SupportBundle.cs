using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeAgent.Hosting.Support;

/// <summary>What goes into a support bundle. Strings are written as given (already redacted where they come from the configuration renderer).</summary>
public sealed record SupportBundleContent
{
    public required string DeviceId { get; init; }
    /// <summary>Output of <see cref="Configuration.EffectiveConfigRenderer.Render"/>: secrets already redacted.</summary>
    public required string EffectiveConfigJson { get; init; }
    /// <summary>Directory of the rolling log files; the newest <see cref="MaxLogFiles"/> are included.</summary>
    public string? LogDirectory { get; init; }
    public int MaxLogFiles { get; init; } = 3;
    /// <summary>Only the last this-many bytes of each log file (the recent part is what matters).</summary>
    public long MaxBytesPerLogFile { get; init; } = 4 * 1024 * 1024;
    /// <summary>State summary (models, outbox, updates) as JSON from the agent, or null when it is not running.</summary>
    public string? StateSummaryJson { get; init; }
    /// <summary>Formatted doctor report, when available.</summary>
    public string? DoctorReport { get; init; }
    /// <summary>
    /// Literal secret values (MQTT password, tokens) scrubbed from every text in the bundle — including log
    /// lines — in case one was ever logged by mistake.
    /// </summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];
    /// <summary>Listing of the state directory (names, sizes, times; never file contents), or null.</summary>
    public string? StateListing { get; init; }
    /// <summary>Further snapshots by entry name (e.g. <c>state/status.json</c>, <c>metrics.txt</c>), scrubbed like everything else.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Snapshots { get; init; } = [];
    /// <summary>Told the name of each entry before it is written (progress display).</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>
/// Writes <c>edgeagent support-bundle</c>: a tar.gz an operator can attach to a ticket without leaking
/// credentials — effective configuration (redacted), recent logs, state summary, doctor report, system facts.
/// </summary>
/// <remarks>Thread-safe (stateless). Reads logs while the agent may be writing them: files are opened with sharing.</remarks>
public static partial class SupportBundle
{
    public const string Redacted = Configuration.EffectiveConfigRenderer.Redacted;

    /// <summary>Writes the bundle to <paramref name="output"/> (left open). Returns the names of the entries written.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(Stream output, SupportBundleContent content, TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        var now = time.GetUtcNow();
        string root = $"edgeagent-support-{content.DeviceId}-{now:yyyyMMddTHHmmssZ}";
        var names = new List<string>();
        var secrets = content.Secrets.Where(s => s.Length >= 3).Distinct().OrderByDescending(s => s.Length).ToList();

        await using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            async Task AddText(string name, string text)
            {
                content.Progress?.Invoke(name);
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"{root}/{name}")
                {
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
                    ModificationTime = now,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(Scrub(text, secrets))),
                };
                await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
                names.Add(name);
            }

            await AddText("README.txt",
                $"EdgeAgent support bundle for device {content.DeviceId}, created {now:u}.\n" +
                "config/effective.json  effective configuration, secrets redacted\n" +
                "logs/                  newest agent log files (tail)\n" +
                "state/summary.json     models, outbox, update state as reported by the running agent\n" +
                "doctor.txt             results of 'edgeagent doctor'\n" +
                "system.txt             OS, runtime, architecture\n" +
                "state/listing.txt      names and sizes of the files in the state directory (no contents)\n" +
                "state/*.json           status, models, outbox and drift as answered by the running agent\n" +
                "metrics.txt            Prometheus metrics scraped from the running agent\n").ConfigureAwait(false);
            await AddText("config/effective.json", content.EffectiveConfigJson).ConfigureAwait(false);
            await AddText("system.txt", SystemFacts(now)).ConfigureAwait(false);
            await AddText("state/summary.json", content.StateSummaryJson ?? "{ \"error\": \"the agent did not answer: not running or not reachable\" }").ConfigureAwait(false);
            if (content.DoctorReport is not null) await AddText("doctor.txt", content.DoctorReport).ConfigureAwait(false);
            if (content.StateListing is not null) await AddText("state/listing.txt", content.StateListing).ConfigureAwait(false);
            foreach (var (name, text) in content.Snapshots) await AddText(name, text).ConfigureAwait(false);

            if (content.LogDirectory is not null && Directory.Exists(content.LogDirectory))
            {
                var logs = new DirectoryInfo(content.LogDirectory).GetFiles()
                    .OrderByDescending(f => f.LastWriteTimeUtc).Take(content.MaxLogFiles);
                foreach (var log in logs)
                    await AddText("logs/" + log.Name, await TailAsync(log.FullName, content.MaxBytesPerLogFile, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            }
            else
            {
                await AddText("logs/MISSING.txt", $"no log directory at {content.LogDirectory ?? "(not configured)"}\n").ConfigureAwait(false);
            }
        }
        return names;
    }

    private static async Task<string> TailAsync(string path, long maxBytes, CancellationToken ct)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long start = Math.Max(0, stream.Length - maxBytes);
            stream.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string text = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
            if (start > 0)
            {
                // Cut the partial first line so every line in the bundle is whole.
                int nl = text.IndexOf('\n');
                text = $"[... first {start} bytes omitted ...]\n" + (nl >= 0 ? text[(nl + 1)..] : text);
            }
            return text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"[cannot read {path}: {e.Message}]\n";
        }
    }

    internal static string Scrub(string text, IReadOnlyList<string> secrets)
    {
        foreach (var s in secrets) text = text.Replace(s, Redacted, StringComparison.Ordinal);
        return PrivateKeyBlock().Replace(text, "-----" + Redacted + " PRIVATE KEY-----");
    }

    /// <summary>A PEM private key block (any algorithm, encrypted or not), should one ever end up in a log line.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)")]
    private static partial System.Text.RegularExpressions.Regex PrivateKeyBlock();

    /// <summary>
    /// A listing of <paramref name="directory"/> (relative path, size, modification time), at most
    /// <paramref name="maxEntries"/> entries: what an engineer needs to see the state, without any file's contents.
    /// </summary>
    public static string ListDirectory(string directory, int maxEntries = 2000)
    {
        if (!Directory.Exists(directory)) return $"{directory}: does not exist\n";
        var b = new StringBuilder();
        b.Append(directory).Append('\n');
        int n = 0;
        try
        {
            foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                if (++n > maxEntries) { b.Append("[... more entries omitted ...]\n"); break; }
                string rel = Path.GetRelativePath(directory, entry.FullName);
                string size = entry is FileInfo f ? f.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) : "dir";
                b.Append(System.Globalization.CultureInfo.InvariantCulture, $"{entry.LastWriteTimeUtc:yyyy-MM-ddTHH:mm:ssZ} {size,12} {rel}\n");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            b.Append("[listing stopped: ").Append(e.Message).Append("]\n");
        }
        return b.ToString();
    }

    private static string SystemFacts(DateTimeOffset now) =>
        $"time: {now:o}\nos: {RuntimeInformation.OSDescription}\narchitecture: {RuntimeInformation.OSArchitecture}\n" +
        $"runtime: {RuntimeInformation.FrameworkDescription}\nprocessors: {Environment.ProcessorCount}\n" +
        $"uptime: {TimeSpan.FromMilliseconds(Environment.TickCount64):d\\.hh\\:mm\\:ss}\nuser: {Environment.UserName}\n";
}
