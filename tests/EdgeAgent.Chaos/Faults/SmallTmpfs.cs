using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Chaos.Faults;

/// <summary>
/// A small tmpfs mounted on a directory (the agent's state directory), so "disk full" is a real
/// ENOSPC from the kernel, and a ballast file that fills it. Needs root (we run as root here and in
/// CI); without it, or when mount is refused, <see cref="MountAsync"/> throws with what to do.
/// </summary>
public sealed class SmallTmpfs : IAsyncDisposable
{
    private SmallTmpfs(string path, long sizeBytes)
    {
        Path = path;
        SizeBytes = sizeBytes;
    }

    public string Path { get; }
    public long SizeBytes { get; }
    public string BallastPath => System.IO.Path.Combine(Path, "chaos-ballast.bin");

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    public static async Task<SmallTmpfs> MountAsync(string path, long sizeBytes)
    {
        var id = await ChildProcess.RunAsync("id", ["-u"]).ConfigureAwait(false);
        if (id.StandardOutput.Trim() != "0")
            throw new Harness.ChaosEnvironmentException($"disk-full needs root to mount a tmpfs on the agent's state directory (id -u = {id.StandardOutput.Trim()}); run the chaos suite as root (CI does)");
        Directory.CreateDirectory(path);
        var r = await ChildProcess.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={sizeBytes}", "tmpfs", path]).ConfigureAwait(false);
        if (r.ExitCode != 0)
            throw new Harness.ChaosEnvironmentException($"mount -t tmpfs -o size={sizeBytes} tmpfs {path} failed ({r.ExitCode}): {r.StandardError.Trim()}; " +
                "the container needs CAP_SYS_ADMIN (docker run --privileged or --cap-add SYS_ADMIN) for the disk-full scenario");
        return new SmallTmpfs(path, sizeBytes);
    }

    /// <summary>Writes the ballast until the file system says ENOSPC, leaving <paramref name="leaveFree"/> bytes; returns its size.</summary>
    public long Fill(long leaveFree = 0)
    {
        long written = 0;
        var chunk = new byte[64 * 1024];
        using var fs = new FileStream(BallastPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        try
        {
            while (true)
            {
                long room = FreeBytes - leaveFree;
                if (room <= 0) break;
                int n = (int)Math.Min(chunk.Length, room);
                fs.Write(chunk, 0, n);
                fs.Flush(flushToDisk: false);
                written += n;
            }
        }
        catch (IOException)
        {
            // ENOSPC: full, as wanted.
        }
        return written;
    }

    public void Drain()
    {
        if (File.Exists(BallastPath)) File.Delete(BallastPath);
    }

    public async ValueTask DisposeAsync()
    {
        var r = await ChildProcess.RunAsync("umount", [Path]).ConfigureAwait(false);
        if (r.ExitCode != 0) await ChildProcess.RunAsync("umount", ["-l", Path]).ConfigureAwait(false);
    }
}
