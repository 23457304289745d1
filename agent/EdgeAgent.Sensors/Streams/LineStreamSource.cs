using System.Runtime.CompilerServices;
using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Streams;

/// <summary>Settings shared by every line stream (file, FIFO, serial, stdin, socket clients).</summary>
public sealed record LineStreamSettings
{
    /// <summary>Channel names in sample order. For a CSV file with a header they may be left empty and are
    /// then taken from the header (timestamp column excluded).</summary>
    public IReadOnlyList<string> Channels { get; init; } = [];
    public LineFormat Format { get; init; } = LineFormat.Csv;
    /// <summary>CSV only: the first line of the stream (of each connection, for sockets) names the columns.</summary>
    public bool CsvHeader { get; init; } = true;
    /// <summary>Name of the timestamp field/column (seconds, any epoch), or null when the data has none.</summary>
    public string? TimestampField { get; init; } = "t";
    public ReplayTiming Replay { get; init; } = ReplayTiming.AsFastAsPossible;
    /// <summary>Replay speed factor for <see cref="ReplayTiming.Recorded"/>: 2 plays twice as fast.</summary>
    public double Speed { get; init; } = 1.0;
    /// <summary>Longest accepted line in bytes; longer lines are counted and discarded.</summary>
    public int MaxLineBytes { get; init; } = 4096;
    /// <summary>Expected sample rate of the data, for rate checks and gap detection (null: unknown).</summary>
    public double? NominalRateHz { get; init; }
}

/// <summary>
/// Samples from newline-delimited CSV or JSONL text read from a regular file, a FIFO, a serial device or
/// stdin, optionally replayed at the recorded timing.
/// </summary>
/// <remarks>
/// <para><b>Time:</b> when a line carries a timestamp, <see cref="SensorSample.TimeNs"/> is that timestamp (so
/// gaps in recorded data are detected even when replaying as fast as possible); otherwise it is the
/// arrival time. <see cref="SensorSample.WallTime"/> is always when the sample was handed on.</para>
/// <para><b>Replay:</b> with <see cref="ReplayTiming.Recorded"/>, sample <i>i</i> is released
/// (tᵢ − t₀) / speed after the first one, measured on the injected <see cref="TimeProvider"/> from the
/// first sample (absolute schedule, so delays do not accumulate). A timestamp that goes backwards is not
/// waited for. Every line must then carry a timestamp: a JSONL line without one is counted as
/// <see cref="BadSampleReason.WrongArity"/>, a CSV header without the column is a fault.</para>
/// <para><b>Back-pressure:</b> files, FIFOs and stdin prefer <see cref="SampleBackPressure.Wait"/> (their
/// writer can wait); a serial device prefers <see cref="SampleBackPressure.DropOldest"/> (a UART cannot).</para>
/// </remarks>
public sealed class LineStreamSource : ISensorSource
{
    private readonly Func<CancellationToken, IByteStream> _open;
    private readonly LineStreamSettings _settings;
    private readonly TimeProvider _time;
    private int _started;

    private LineStreamSource(string name, LineStreamSettings settings, SampleBackPressure backPressure,
        Func<CancellationToken, IByteStream> open, TimeProvider? time)
    {
        if (settings.Channels.Count == 0)
            throw new SensorSourceException($"{name}: no channels configured (channels can only be taken from the header of a CSV file)");
        Name = name;
        _settings = settings;
        PreferredBackPressure = backPressure;
        _open = open;
        _time = time ?? TimeProvider.System;
    }

    public string Name { get; }
    public IReadOnlyList<string> Channels => _settings.Channels;
    public double? NominalRateHz => _settings.NominalRateHz;
    public SampleBackPressure PreferredBackPressure { get; }
    public SensorStats Stats { get; } = new();

    /// <summary>A regular file (a recording). Channels default to the CSV header.</summary>
    public static LineStreamSource ForFile(string path, LineStreamSettings settings, TimeProvider? time = null)
    {
        if (!File.Exists(path)) throw new SensorSourceException($"file {path} does not exist");
        if (settings.Channels.Count == 0 && settings.Format == LineFormat.Csv && settings.CsvHeader)
            settings = settings with { Channels = ChannelsFromCsvHeader(path, settings.TimestampField) };
        return new LineStreamSource($"file:{path}", settings, SampleBackPressure.Wait, _ =>
        {
            try
            {
                return new FileByteStream(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1,
                    FileOptions.SequentialScan));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SensorSourceException($"file {path} cannot be opened: {e.Message}", e);
            }
        }, time);
    }

    /// <summary>
    /// A named pipe. Created (mode 0660) when missing and <paramref name="create"/> is set. With
    /// <paramref name="stopWhenWriterCloses"/> the source ends when the last writer closes; otherwise the
    /// FIFO is held open for writing too, so writers may come and go (the usual daemon setup).
    /// </summary>
    public static LineStreamSource ForFifo(string path, LineStreamSettings settings, bool create = true,
        bool stopWhenWriterCloses = false, TimeProvider? time = null)
    {
        return new LineStreamSource($"fifo:{path}", settings, SampleBackPressure.Wait, _ =>
        {
            if (!File.Exists(path))
            {
                if (!create) throw new SensorSourceException($"FIFO {path} does not exist (create it with mkfifo or set create)");
                if (Libc.MkFifo(path, Convert.ToUInt32("660", 8)) != 0)
                {
                    var (errno, text) = Libc.LastError();
                    if (errno != 17) throw new SensorSourceException($"FIFO {path} cannot be created: {text} (errno {errno})");
                }
            }
            // O_NONBLOCK: opening a FIFO for reading must not block until a writer appears;
            // the reader polls instead. O_RDWR keeps a writer reference so EOF never happens.
            int flags = (stopWhenWriterCloses ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_NONBLOCK | Libc.O_CLOEXEC;
            int fd = OpenDevice(path, flags, "FIFO");
            return new DescriptorByteStream(new FileDescriptorReader(fd, ownsFd: true, $"FIFO {path}"));
        }, time);
    }

    /// <summary>A serial device (e.g. /dev/ttyUSB0), switched to raw mode at <paramref name="baudRate"/>.</summary>
    public static LineStreamSource ForSerial(string device, int baudRate, LineStreamSettings settings, TimeProvider? time = null)
    {
        if (!SerialPortSettings.SupportedBaudRates.ContainsKey(baudRate))
            throw new SensorSourceException($"{device}: baud rate {baudRate} is not supported; use one of {string.Join(", ", SerialPortSettings.SupportedBaudRates.Keys)}");
        return new LineStreamSource($"serial:{device}", settings, SampleBackPressure.DropOldest, _ =>
        {
            int fd = OpenDevice(device, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, "serial device");
            try
            {
                SerialPortSettings.ApplyRaw(fd, baudRate, device);
            }
            catch
            {
                Libc.Close(fd);
                throw;
            }
            return new DescriptorByteStream(new FileDescriptorReader(fd, ownsFd: true, $"serial device {device}"));
        }, time);
    }

    /// <summary>The process's standard input (not closed on dispose).</summary>
    public static LineStreamSource ForStdin(LineStreamSettings settings, TimeProvider? time = null) =>
        ForDescriptor(0, ownsDescriptor: false, "stdin", settings, time);

    /// <summary>Any readable descriptor (stdin, an inherited pipe).</summary>
    internal static LineStreamSource ForDescriptor(int fd, bool ownsDescriptor, string name, LineStreamSettings settings, TimeProvider? time = null) =>
        new(name, settings, SampleBackPressure.Wait,
            _ => new DescriptorByteStream(new FileDescriptorReader(fd, ownsDescriptor, name)), time);

    public async IAsyncEnumerable<SensorSample> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException($"{Name}: ReadAllAsync may be enumerated only once");
        using var stream = _open(cancellationToken);
        var splitter = new LineSplitter(_settings.MaxLineBytes, Stats);
        bool pace = _settings.Replay == ReplayTiming.Recorded && _settings.TimestampField is not null;
        var parser = new LineSampleParser(Name, _settings.Channels, _settings.Format, _settings.CsvHeader, _settings.TimestampField, Stats,
            timestampRequired: pace);
        var values = new float[_settings.Channels.Count];
        double firstTimestamp = double.NaN;
        long replayStart = 0;
        bool endOfStream = false;

        while (!endOfStream)
        {
            int read = await stream.ReadAsync(splitter.GetReadMemory(), cancellationToken).ConfigureAwait(false);
            if (read == 0) endOfStream = true;
            else splitter.Advance(read);

            while (true)
            {
                int start, length;
                if (!splitter.TryReadLine(out start, out length) && !(endOfStream && splitter.TryReadFinalLine(out start, out length)))
                    break;
                if (parser.Parse(splitter.Buffer.AsSpan(start, length), values, out double timestamp) != LineParseOutcome.Sample)
                    continue;

                bool hasTimestamp = !double.IsNaN(timestamp);
                if (pace && hasTimestamp)
                {
                    if (double.IsNaN(firstTimestamp))
                    {
                        firstTimestamp = timestamp;
                        replayStart = _time.GetTimestamp();
                    }
                    var due = TimeSpan.FromSeconds((timestamp - firstTimestamp) / _settings.Speed);
                    var wait = due - _time.GetElapsedTime(replayStart);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                }
                long timeNs = hasTimestamp ? (long)Math.Round(timestamp * 1e9) : SampleClock.NowNs(_time);
                Stats.CountAccepted();
                yield return new SensorSample(timeNs, _time.GetUtcNow(), values);
            }
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static IReadOnlyList<string> ChannelsFromCsvHeader(string path, string? timestampField)
    {
        string? header = File.ReadLines(path).FirstOrDefault(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'));
        if (header is null) throw new SensorSourceException($"file {path} is empty: no CSV header to take the channel names from");
        return header.Split(',').Select(s => s.Trim()).Where(s => s.Length > 0 && s != timestampField).ToArray();
    }

    private static int OpenDevice(string path, int flags, string what)
    {
        int fd = Libc.Open(path, flags, 0);
        if (fd >= 0) return fd;
        var (errno, text) = Libc.LastError();
        string hint = errno switch
        {
            Libc.ENOENT => " — it does not exist",
            Libc.EACCES => " — permission denied; add the service user to the device's group (e.g. dialout) or grant DeviceAllow= in the unit",
            _ => "",
        };
        throw new SensorSourceException($"{what} {path} cannot be opened: {text} (errno {errno}){hint}");
    }
}
