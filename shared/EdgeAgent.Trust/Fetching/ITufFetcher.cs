namespace EdgeAgent.Trust.Fetching;

/// <summary>Transfer limits for one file.</summary>
/// <param name="MaxLength">Bytes beyond this abort the transfer (a pinned length or a per-role cap).</param>
/// <param name="Deadline">Wall time allowed for the whole file.</param>
/// <param name="MinimumBytesPerSecond">Average throughput required once <paramref name="GracePeriod"/> has passed
/// (drip-feed / slow-retrieval protection, TUF §1.5.2 "slow retrieval attacks").</param>
/// <param name="GracePeriod">Slow start allowed before the throughput check applies.</param>
public sealed record FetchLimits(long MaxLength, TimeSpan Deadline, long MinimumBytesPerSecond, TimeSpan GracePeriod);

/// <summary>
/// Fetches files for the TUF client. Implementations stream into <c>destination</c>, stop as soon
/// as <see cref="FetchLimits.MaxLength"/> is exceeded and enforce the deadline and minimum
/// throughput. Failures are <see cref="TufDownloadException"/>s (403/404 flagged as not found).
/// Implementations are thread safe. A resuming implementation (HTTP Range) may be supplied by the
/// update manager: <c>resumeFrom</c> bytes are already in <c>destination</c>.
/// </summary>
public interface ITufFetcher
{
    /// <summary>Copies the body of <paramref name="uri"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    Task<long> FetchAsync(Uri uri, Stream destination, FetchLimits limits, long resumeFrom, CancellationToken cancellationToken);
}
