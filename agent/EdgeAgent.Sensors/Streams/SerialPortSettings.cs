using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Streams;

/// <summary>
/// Puts a tty into raw 8N1 mode at a given baud rate with termios (glibc <c>struct termios</c>):
/// no echo, no line editing, no CR/LF translation, reads return as soon as one byte is there.
/// </summary>
public static unsafe class SerialPortSettings
{
    // glibc struct termios: c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line (u8), c_cc[32], c_ispeed, c_ospeed = 60 bytes.
    private const int TermiosBufferBytes = 128;
    private const int CflagOffset = 8;
    private const int CcOffset = 17;
    private const int VTIME = 5;
    private const int VMIN = 6;
    private const uint CREAD = 0x80;   // 0000200 octal
    private const uint CLOCAL = 0x800; // 0004000 octal
    private const int TCSANOW = 0;

    /// <summary>Baud rates accepted, with the Linux <c>Bnnn</c> speed constants (asm-generic/termbits.h).</summary>
    public static IReadOnlyDictionary<int, uint> SupportedBaudRates { get; } = new Dictionary<int, uint>
    {
        [1200] = 0x9, [2400] = 0xB, [4800] = 0xC, [9600] = 0xD, [19200] = 0xE, [38400] = 0xF,
        [57600] = 0x1001, [115200] = 0x1002, [230400] = 0x1003, [460800] = 0x1004, [500000] = 0x1005,
        [576000] = 0x1006, [921600] = 0x1007, [1000000] = 0x1008,
    };

    /// <summary>Configures <paramref name="fd"/>; throws <see cref="SensorSourceException"/> naming the device.</summary>
    internal static void ApplyRaw(int fd, int baudRate, string device)
    {
        if (!SupportedBaudRates.TryGetValue(baudRate, out uint speed))
            throw new SensorSourceException($"{device}: baud rate {baudRate} is not supported; use one of {string.Join(", ", SupportedBaudRates.Keys)}");
        byte* t = stackalloc byte[TermiosBufferBytes];
        new Span<byte>(t, TermiosBufferBytes).Clear();
        if (Libc.TcGetAttr(fd, t) != 0) Fail("tcgetattr", device);
        Libc.CfMakeRaw(t);
        if (Libc.CfSetISpeed(t, speed) != 0) Fail("cfsetispeed", device);
        if (Libc.CfSetOSpeed(t, speed) != 0) Fail("cfsetospeed", device);
        *(uint*)(t + CflagOffset) |= CREAD | CLOCAL; // receiver on, ignore modem control lines
        t[CcOffset + VMIN] = 1;
        t[CcOffset + VTIME] = 0;
        if (Libc.TcSetAttr(fd, TCSANOW, t) != 0) Fail("tcsetattr", device);
    }

    /// <summary>Reads back the input baud rate of a tty (for diagnostics and tests), or null if unknown.</summary>
    public static int? ReadBaudRate(int fd)
    {
        byte* t = stackalloc byte[TermiosBufferBytes];
        if (Libc.TcGetAttr(fd, t) != 0) return null;
        uint speed = Libc.CfGetISpeed(t);
        foreach (var (baud, constant) in SupportedBaudRates) if (constant == speed) return baud;
        return null;
    }

    private static void Fail(string call, string device)
    {
        var (errno, text) = Libc.LastError();
        string hint = errno == Libc.ENOTTY ? " (it is not a terminal/serial device)" : "";
        throw new SensorSourceException($"{device}: {call} failed: {text} (errno {errno}){hint}");
    }
}
