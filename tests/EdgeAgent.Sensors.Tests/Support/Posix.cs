using System.Text;
using EdgeAgent.Sensors.Native;

namespace EdgeAgent.Sensors.Tests.Support;

/// <summary>Real kernel objects for tests: pipes and pseudo-terminals.</summary>
public static unsafe class Posix
{
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.Pipe2(fds, Libc.O_CLOEXEC) != 0) throw new IOException("pipe2 failed: " + Libc.LastError().Text);
        return (fds[0], fds[1]);
    }

    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.Write(fd, p + done, (nuint)(data.Length - done));
                if (n < 0) throw new IOException("write failed: " + Libc.LastError().Text);
                done += (int)n;
            }
        }
    }

    public static void WriteAll(int fd, string text) => WriteAll(fd, Encoding.UTF8.GetBytes(text));

    public static void Close(int fd) => Libc.Close(fd);

    /// <summary>Opens a pseudo-terminal pair; returns the master fd and the slave device path.</summary>
    public static (int Master, string SlavePath) OpenPty()
    {
        int master = Libc.PosixOpenPt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (master < 0) throw new IOException("posix_openpt failed: " + Libc.LastError().Text);
        if (Libc.GrantPt(master) != 0 || Libc.UnlockPt(master) != 0) throw new IOException("grantpt/unlockpt failed: " + Libc.LastError().Text);
        byte* name = stackalloc byte[128];
        if (Libc.PtsNameR(master, name, 128) != 0) throw new IOException("ptsname_r failed");
        return (master, new string((sbyte*)name));
    }

    public static int OpenReadOnly(string path)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"open {path} failed: " + Libc.LastError().Text);
        return fd;
    }
}
