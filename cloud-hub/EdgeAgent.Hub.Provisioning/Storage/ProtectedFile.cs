using System.Text;

namespace EdgeAgent.Hub.Provisioning.Storage;

/// <summary>
/// Writes files atomically (temp file + rename in the same directory) with explicit Unix modes, so a
/// broker reloading on SIGHUP never reads half a file and private keys are never world-readable, not
/// even for an instant (the mode is set at creation, not after). Thread safety: callers serialise
/// writers of the same path (the provisioner holds its directory lock).
/// </summary>
internal static class ProtectedFile
{
    /// <summary>0600: private keys, password hashes, the registry.</summary>
    public const UnixFileMode Secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// 0640: the broker's key and password file. Mosquitto reads them as its own user after dropping
    /// root (REFERENCE.md), so they are readable by the group of the broker directory, which new files
    /// inherit through the directory's set-group-id bit.
    /// </summary>
    public const UnixFileMode BrokerSecret = Secret | UnixFileMode.GroupRead;

    /// <summary>0644: certificates, CRL, broker configuration.</summary>
    public const UnixFileMode Public = Secret | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static async Task WriteAsync(string path, string content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temp = Path.Combine(directory, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        try
        {
            await using (var stream = new FileStream(temp, options))
            {
                byte[] bytes = Encoding.UTF8.GetBytes(content);
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Creates the broker directory with mode 2750 when missing: <c>chgrp -R mosquitto</c> once and every
    /// file written later (temp file + rename) belongs to that group too.
    /// </summary>
    public static void EnsureBrokerDirectory(string path)
    {
        if (OperatingSystem.IsWindows() || Directory.Exists(path))
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path);
        // chmod rather than the mkdir mode: mkdir(2) may drop S_ISGID.
        File.SetUnixFileMode(path, UnixFileMode.SetGroup | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
    }

    /// <summary>
    /// Creates the provisioning root with mode 0711 when missing: others may pass through to the broker
    /// directory but cannot list it; everything secret inside has its own 0600/0700 mode.
    /// </summary>
    public static void EnsureRootDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }

    /// <summary>
    /// Like <see cref="WriteAsync"/> but skips the write (and its fsync) when the file already holds
    /// exactly <paramref name="content"/>; the broker files rarely change on a device add.
    /// </summary>
    public static async Task WriteIfChangedAsync(string path, string content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        if (File.Exists(path) && string.Equals(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), content, StringComparison.Ordinal))
        {
            return;
        }

        await WriteAsync(path, content, mode, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates <paramref name="path"/> (and parents) with mode 0700 when missing.</summary>
    public static void EnsurePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
