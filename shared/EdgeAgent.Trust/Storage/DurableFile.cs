using System.Runtime.InteropServices;

namespace EdgeAgent.Trust.Storage;

/// <summary>
/// Crash-safe whole-file replacement: write a temp file in the same directory, fsync it, rename
/// it over the target, then fsync the directory so the rename itself survives a power cut (Linux
/// needs the directory fsync; .NET has no API for it, hence libc via <c>LibraryImport</c>).
/// Thread safe per distinct path; callers serialise writers of the same path.
/// </summary>
public static partial class DurableFile
{
    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="content"/>.</summary>
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        // The temp name never ends in ".json": the metadata directory must hold only role files with that suffix.
        var temp = Path.Combine(dir, "." + Path.GetFileName(path) + ".tmp");
        await using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await fs.WriteAsync(content, cancellationToken);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        SyncDirectory(dir);
    }

    /// <summary>Deletes <paramref name="path"/> if present and makes the deletion durable.</summary>
    public static void Delete(string path)
    {
        if (!File.Exists(path)) return;
        File.Delete(path);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>fsync(2) on a directory. No-op outside Linux/macOS.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD()) return;
        var fd = Libc.open(directory, 0 /* O_RDONLY: a directory can be fsync'ed through a read-only fd */);
        if (fd < 0)
            throw new IOException($"Cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (Libc.fsync(fd) != 0)
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()}); the last rename may not survive a power cut.");
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    private static partial class Libc
    {
        // "libc" is resolved by the runtime to the C library on Linux (glibc libc.so.6, musl).
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        internal static partial int fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int close(int fd);
    }
}
