using System.Text;
using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Streams;

/// <summary>FIFO, stdin-like pipe and serial (pseudo-terminal) streams against real kernel objects.</summary>
public sealed class DeviceStreamTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly LineStreamSettings Csv3 = new() { Channels = ["ax", "ay", "az"], TimestampField = null };

    [Fact]
    public async Task Fifo_is_created_read_across_writers_and_samples_arrive_in_order()
    {
        string path = _dir.File("in.fifo");
        await using var source = LineStreamSource.ForFifo(path, Csv3 with { CsvHeader = false });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = Collect.SamplesAsync(source, max: 4, cts.Token);
        await Eventually.True(() => Libc.FileType(path) == Libc.S_IFIFO, "FIFO created by the source");
        // Created 0660 (minus umask): never readable or writable by other users.
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(path) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute));
        // Two writers one after the other: the source keeps the FIFO open, so the first writer closing is not EOF.
        await File.WriteAllTextAsync(path, "1,2,3\nbad line\n4,5,6\n");
        await File.WriteAllTextAsync(path, "7,8,9\n10,11,12\n");
        var samples = await reading;
        Assert.Equal(new[] { 1f, 4f, 7f, 10f }, samples.Select(s => s.Values[0]));
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.Unparseable));
    }

    [Fact]
    public async Task Fifo_configured_to_stop_ends_when_the_writer_closes()
    {
        string path = _dir.File("once.fifo");
        await using var source = LineStreamSource.ForFifo(path, Csv3 with { CsvHeader = true }, stopWhenWriterCloses: true);
        var reading = Collect.SamplesAsync(source);
        await Eventually.True(() => Libc.FileType(path) == Libc.S_IFIFO, "FIFO created");
        await File.WriteAllTextAsync(path, "az,ay,ax\n3,2,1\n6,5,4");
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(new[] { new[] { 1f, 2f, 3f }, new[] { 4f, 5f, 6f } }, samples.Select(s => s.Values));
    }

    [Fact]
    public async Task Fifo_not_created_when_creation_is_off_is_reported()
    {
        string path = _dir.File("absent.fifo");
        await using var source = LineStreamSource.ForFifo(path, Csv3, create: false);
        var e = await Assert.ThrowsAsync<SensorSourceException>(() => Collect.SamplesAsync(source));
        Assert.Equal($"FIFO {path} does not exist (create it with mkfifo or set create)", e.Message);
    }

    [Fact]
    public async Task Stdin_style_descriptor_reads_jsonl_until_the_writer_closes()
    {
        var (read, write) = Posix.Pipe();
        await using var source = LineStreamSource.ForDescriptor(read, ownsDescriptor: true, "stdin",
            new LineStreamSettings { Format = LineFormat.Jsonl, Channels = ["x"] });
        var reading = Collect.SamplesAsync(source);
        Posix.WriteAll(write, "{\"x\": 1}\n{\"x\": 2}\n{\"x\":");
        Posix.WriteAll(write, " 3}\n{\"y\": 4}\n");
        Posix.Close(write);
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(new[] { 1f, 2f, 3f }, samples.Select(s => s.Values[0]));
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.UnknownChannel));
    }

    [Fact]
    public async Task Serial_device_is_switched_to_raw_mode_at_the_baud_rate_and_read()
    {
        var (master, slave) = Posix.OpenPty();
        try
        {
            await using var source = LineStreamSource.ForSerial(slave, 57600, Csv3 with { CsvHeader = false });
            Assert.Equal(SampleBackPressure.DropOldest, source.PreferredBackPressure);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var reading = Collect.SamplesAsync(source, max: 2, cts.Token);
            // Raw mode: no CR→NL translation or line editing; a CR-LF line ending must reach the parser intact.
            await Eventually.True(() => BaudOf(slave) == 57600, "termios applied");
            var (lflag, cflag, vmin) = ModeOf(slave);
            Assert.Equal(0u, lflag & (0x2u | 0x8u));   // ICANON and ECHO off: no line editing, no echo
            Assert.Equal(0x30u, cflag & 0x30u);        // CS8
            Assert.Equal(0x80u, cflag & 0x80u);        // CREAD
            Assert.Equal(1, vmin);                     // read returns as soon as one byte is there
            Posix.WriteAll(master, "1,2,3\r\n4,5");
            Posix.WriteAll(master, ",6\n");
            var samples = await reading;
            Assert.Equal(new[] { new[] { 1f, 2f, 3f }, new[] { 4f, 5f, 6f } }, samples.Select(s => s.Values));
        }
        finally
        {
            Posix.Close(master);
        }
    }

    [Fact]
    public void Unsupported_baud_rates_are_refused_with_the_supported_list()
    {
        var e = Assert.Throws<SensorSourceException>(() => LineStreamSource.ForSerial("/dev/ttyS0", 12345, Csv3));
        Assert.StartsWith("/dev/ttyS0: baud rate 12345 is not supported; use one of 1200, 2400", e.Message);
    }

    [Fact]
    public async Task A_missing_serial_device_fails_with_its_path()
    {
        await using var source = LineStreamSource.ForSerial("/dev/ttyEdgeAgentNone", 115200, Csv3);
        var e = await Assert.ThrowsAsync<SensorSourceException>(() => Collect.SamplesAsync(source));
        Assert.Contains("serial device /dev/ttyEdgeAgentNone cannot be opened", e.Message);
        Assert.Contains("it does not exist", e.Message);
    }

    private static unsafe (uint Lflag, uint Cflag, byte Vmin) ModeOf(string tty)
    {
        int fd = Posix.OpenReadOnly(tty);
        try
        {
            byte* t = stackalloc byte[128];
            Assert.Equal(0, Libc.TcGetAttr(fd, t));
            return (*(uint*)(t + 12), *(uint*)(t + 8), t[17 + 6]); // glibc termios: c_lflag @12, c_cflag @8, c_cc[VMIN] @17+6
        }
        finally { Posix.Close(fd); }
    }

    private static int? BaudOf(string tty)
    {
        int fd = Posix.OpenReadOnly(tty);
        try { return SerialPortSettings.ReadBaudRate(fd); }
        finally { Posix.Close(fd); }
    }
}
