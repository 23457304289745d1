namespace EdgeAgent.Bundles;

/// <summary>Why a bundle was refused.</summary>
public enum BundleFailure
{
    /// <summary>Not a readable tar, or truncated.</summary>
    Format,
    /// <summary>Entry names, types or count are not exactly <c>manifest.json</c> + <c>model.onnx</c>.</summary>
    Entries,
    /// <summary>A size cap was exceeded.</summary>
    TooLarge,
    /// <summary>manifest.json is invalid.</summary>
    Manifest,
    /// <summary>model.onnx does not match the length/SHA-256 in the manifest.</summary>
    ModelHash,
    /// <summary>A device assignment (<c>assignments/&lt;id&gt;.json</c>) is invalid or for another device.</summary>
    Assignment,
    /// <summary>Bad builder input.</summary>
    Input,
}

/// <summary>A bundle could not be read or built; <see cref="Exception.Message"/> says what to fix.</summary>
public sealed class BundleException : Exception
{
    public BundleException(BundleFailure failure, string message, Exception? inner = null) : base(message, inner) => Failure = failure;

    public BundleFailure Failure { get; }
}
