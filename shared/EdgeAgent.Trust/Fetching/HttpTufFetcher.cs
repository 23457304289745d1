using System.Net;

namespace EdgeAgent.Trust.Fetching;

/// <summary>
/// <see cref="ITufFetcher"/> over <see cref="HttpClient"/> (AOT safe, no reflection). Enforces the
/// size cap while streaming (a lying or missing Content-Length does not matter), an overall
/// deadline and an average-throughput floor checked on a timer, so a server that sends one byte
/// per second cannot hold the client for long. Supports resuming with an HTTP Range request.
/// Thread safe; the <see cref="HttpClient"/> is shared and owned by the caller unless created here.
/// </summary>
public sealed class HttpTufFetcher : ITufFetcher, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly TimeProvider _time;

    /// <summary>How often the throughput watchdog looks at progress.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public HttpTufFetcher(HttpClient? http = null, TimeProvider? time = null)
    {
        _ownsClient = http is null;
        // Deadlines are ours, per file. A supplied client keeps its settings; its Timeout should be
        // infinite (or longer than any deadline) so that it does not pre-empt the watchdog.
        _http = http ?? new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _time = time ?? TimeProvider.System;
    }

    public async Task<long> FetchAsync(Uri uri, Stream destination, FetchLimits limits, long resumeFrom, CancellationToken cancellationToken)
    {
        using var watchdog = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var start = _time.GetTimestamp();
        long received = 0;
        string? abortReason = null;

        await using var timer = _time.CreateTimer(_ =>
        {
            var elapsed = _time.GetElapsedTime(start);
            if (elapsed >= limits.Deadline)
                abortReason = $"did not complete within its {limits.Deadline.TotalSeconds:0.#} s deadline ({Interlocked.Read(ref received)} bytes received)";
            else if (elapsed >= limits.GracePeriod && Interlocked.Read(ref received) < limits.MinimumBytesPerSecond * elapsed.TotalSeconds)
                abortReason = $"arrived at {Interlocked.Read(ref received) / elapsed.TotalSeconds:0.#} B/s, below the required {limits.MinimumBytesPerSecond} B/s (slow retrieval / drip-feed protection)";
            else return;
            try { watchdog.Cancel(); } catch (ObjectDisposedException) { }
        }, null, CheckInterval, CheckInterval);

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (resumeFrom > 0) request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(resumeFrom, null);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, watchdog.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new TufDownloadException(TufFailureKind.Download, uri, $"GET {uri} answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}.", (int)response.StatusCode);
            if (resumeFrom > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                throw new TufDownloadException(TufFailureKind.Download, uri, $"GET {uri} ignored the Range request (HTTP {(int)response.StatusCode}); restart the download from zero.", (int)response.StatusCode);
            if (response.Content.Headers.ContentLength is { } announced && resumeFrom + announced > limits.MaxLength)
                throw new TufDownloadException(TufFailureKind.TooLarge, uri, $"GET {uri} announces {resumeFrom + announced} bytes, above the {limits.MaxLength}-byte limit; not downloading it.");

            await using var body = await response.Content.ReadAsStreamAsync(watchdog.Token).ConfigureAwait(false);
            var buffer = new byte[16 * 1024];
            long total = resumeFrom;
            while (true)
            {
                var n = await body.ReadAsync(buffer, watchdog.Token).ConfigureAwait(false);
                if (n == 0) break;
                total += n;
                Interlocked.Add(ref received, n);
                if (total > limits.MaxLength)
                    throw new TufDownloadException(TufFailureKind.TooLarge, uri, $"GET {uri} sent more than the {limits.MaxLength}-byte limit; download aborted.");
                await destination.WriteAsync(buffer.AsMemory(0, n), watchdog.Token).ConfigureAwait(false);
            }
            return total;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && abortReason is not null
                                  && e is OperationCanceledException or IOException or HttpRequestException)
        {
            // The watchdog cut the transfer; whatever the socket layer threw, report why.
            throw new TufDownloadException(TufFailureKind.TooSlow, uri, $"GET {uri} {abortReason}.", inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new TufDownloadException(TufFailureKind.Download, uri, $"GET {uri} failed: {e.Message}", (int?)e.StatusCode, e);
        }
        catch (IOException e)
        {
            throw new TufDownloadException(TufFailureKind.Download, uri, $"GET {uri} failed while reading: {e.Message}", inner: e);
        }
    }

    public void Dispose()
    {
        if (_ownsClient) _http.Dispose();
    }
}
