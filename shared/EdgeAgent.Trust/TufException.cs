namespace EdgeAgent.Trust;

/// <summary>Why a TUF operation was refused. Tests and callers branch on this, operators read the message.</summary>
public enum TufFailureKind
{
    /// <summary>Metadata is not valid TUF JSON (syntax, floats, duplicate keys, missing fields, wrong <c>_type</c>).</summary>
    Malformed,
    /// <summary>Signature threshold not met by distinct trusted keys.</summary>
    Signature,
    /// <summary>A version went backwards, skipped, or does not match what the parent role pinned.</summary>
    Version,
    /// <summary>Metadata is expired at the update's reference time.</summary>
    Expired,
    /// <summary>Length or hash differs from what the parent role pinned.</summary>
    LengthOrHash,
    /// <summary>The file could not be fetched (HTTP error, network, missing).</summary>
    Download,
    /// <summary>The file is larger than the cap or the pinned length.</summary>
    TooLarge,
    /// <summary>The transfer was slower than the minimum throughput or missed its deadline.</summary>
    TooSlow,
    /// <summary>The local trust state (metadata directory, state file) is missing or corrupt.</summary>
    State,
    /// <summary>No trusted role lists the requested target.</summary>
    TargetNotFound,
    /// <summary>A repository tooling operation was invalid (unknown role, missing key, ...).</summary>
    Repository,
}

/// <summary>
/// A refusal by the TUF client or repository tooling. The message is written for a device
/// operator: it names the role, the file and what to do. Whenever the client throws this, the
/// previously trusted metadata and state on disk are left as they were before the failing step.
/// </summary>
public class TufException : Exception
{
    public TufException(TufFailureKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    /// <summary>The category of the refusal.</summary>
    public TufFailureKind Kind { get; }
}

/// <summary>A fetch failed; <see cref="StatusCode"/> is set when the server answered with an HTTP error.</summary>
public sealed class TufDownloadException : TufException
{
    public TufDownloadException(TufFailureKind kind, Uri uri, string message, int? statusCode = null, Exception? inner = null)
        : base(kind, message, inner)
    {
        Uri = uri;
        StatusCode = statusCode;
    }

    /// <summary>The URL that was being fetched.</summary>
    public Uri Uri { get; }

    /// <summary>The HTTP status, if the server answered.</summary>
    public int? StatusCode { get; }

    /// <summary>True for 403/404: TUF treats these as "no such file" (e.g. the end of the root chain).</summary>
    public bool IsNotFound => StatusCode is 403 or 404;
}
