using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Cli;

/// <summary>
/// The verbs of the standard TUF client CLI (tuf-conformance <c>CLIENT-CLI.md</c>): <c>init</c>,
/// <c>refresh</c>, <c>download</c>. Each returns the process exit code (0 success, 1 any failure)
/// and writes one line per outcome; the command-line wiring lives in the agent
/// (<c>edgeagent tuf …</c>). Stateless; safe to call concurrently on different directories.
/// </summary>
public static class TufClientVerbs
{
    /// <summary><c>init TRUSTED_ROOT</c>: installs the trust anchor, no network.</summary>
    public static async Task<int> InitAsync(string metadataDir, string trustedRootPath, TextWriter output, TextWriter error, TimeProvider? time, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(trustedRootPath, cancellationToken).ConfigureAwait(false);
            await TufClient.InitializeAsync(metadataDir, bytes, time, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"Initialised {metadataDir} from {trustedRootPath}.").ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is TufException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"tuf init failed: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary><c>refresh</c>: runs the update cycle against <paramref name="metadataUrl"/>.</summary>
    public static async Task<int> RefreshAsync(string metadataDir, Uri metadataUrl, TextWriter output, TextWriter error, TimeProvider? time, ITufFetcher? fetcher, CancellationToken cancellationToken)
    {
        using var owned = fetcher is null ? new HttpTufFetcher(time: time) : null;
        try
        {
            var client = new TufClient(new TufClientOptions { MetadataDirectory = metadataDir, MetadataBaseUri = metadataUrl }, fetcher ?? owned!, time);
            await client.RefreshAsync(cancellationToken).ConfigureAwait(false);
            var t = client.Trusted!;
            await output.WriteLineAsync($"Refreshed: root v{t.Root.Signed.Version}, timestamp v{t.Timestamp!.Signed.Version}, snapshot v{t.Snapshot!.Signed.Version}, targets v{t.Targets["targets"].Signed.Version}.").ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is TufException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"tuf refresh failed: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>
    /// <c>download</c>: refreshes, then downloads each target into <paramref name="targetDir"/>
    /// under its URL-quoted path (so <c>a/b</c> becomes <c>a%2Fb</c>). Stops at the first failure.
    /// </summary>
    public static async Task<int> DownloadAsync(string metadataDir, Uri metadataUrl, IReadOnlyList<string> targetNames, string targetDir, Uri targetBaseUrl,
        TextWriter output, TextWriter error, TimeProvider? time, ITufFetcher? fetcher, CancellationToken cancellationToken)
    {
        using var owned = fetcher is null ? new HttpTufFetcher(time: time) : null;
        try
        {
            if (targetNames.Count == 0) throw new TufException(TufFailureKind.TargetNotFound, "No --target-name given.");
            var client = new TufClient(new TufClientOptions { MetadataDirectory = metadataDir, MetadataBaseUri = metadataUrl, TargetBaseUri = targetBaseUrl }, fetcher ?? owned!, time);
            await client.RefreshAsync(cancellationToken).ConfigureAwait(false);
            Directory.CreateDirectory(targetDir);
            foreach (var name in targetNames)
            {
                var target = await client.GetTargetAsync(name, cancellationToken).ConfigureAwait(false);
                var fileName = Uri.EscapeDataString(name);
                if (fileName is "." or "..")
                    throw new TufException(TufFailureKind.TargetNotFound, $"Target name '{name}' cannot be stored as a file name.");
                await client.DownloadTargetAsync(target, Path.Combine(targetDir, fileName), cancellationToken).ConfigureAwait(false);
                await output.WriteLineAsync($"Downloaded {name} ({target.Length} bytes, signed by role '{target.Role}').").ConfigureAwait(false);
            }
            return 0;
        }
        catch (Exception e) when (e is TufException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"tuf download failed: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Shifts the clock, like the conformance CLI's <c>--days-in-future</c>.</summary>
    public static TimeProvider ShiftedClock(double days) => days == 0 ? TimeProvider.System : new OffsetTimeProvider(TimeSpan.FromDays(days));

    private sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
    }
}
