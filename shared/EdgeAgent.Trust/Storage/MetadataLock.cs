namespace EdgeAgent.Trust.Storage;

/// <summary>
/// Cross-process exclusion for one metadata directory (the daemon and an operator running
/// <c>edgeagent tuf refresh</c> must not interleave writes). A lock file opened with
/// <see cref="FileShare.None"/>, which .NET maps to an advisory <c>flock</c> on Unix; the lock
/// dies with the process, so a crash never leaves the directory locked. Dispose to release.
/// </summary>
public sealed class MetadataLock : IDisposable
{
    /// <summary>The lock file name (deliberately not <c>.json</c>).</summary>
    public const string FileName = "trust.lock";

    private readonly FileStream _stream;

    private MetadataLock(FileStream stream) => _stream = stream;

    /// <exception cref="TufException">Kind <see cref="TufFailureKind.State"/> when another process holds the lock.</exception>
    public static MetadataLock Acquire(string metadataDirectory)
    {
        var path = Path.Combine(metadataDirectory, FileName);
        try
        {
            return new MetadataLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new TufException(TufFailureKind.State, $"Another process is updating the trusted metadata in '{metadataDirectory}' (lock file {FileName} is held); try again when it has finished.", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new TufException(TufFailureKind.State, $"Metadata directory '{metadataDirectory}' does not exist. {TrustState.RecoveryHint}", e);
        }
    }

    public void Dispose() => _stream.Dispose();
}
