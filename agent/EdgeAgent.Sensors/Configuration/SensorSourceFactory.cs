using System.Globalization;
using EdgeAgent.Sensors.Gpio;
using EdgeAgent.Sensors.Iio;
using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Sockets;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Synthetic;

namespace EdgeAgent.Sensors.Configuration;

/// <summary>
/// Builds the configured <see cref="ISensorSource"/> after checking every option, reporting all problems
/// at once with their configuration path (<c>sensors.gpio.chip: /dev/gpiochip9 does not exist</c>).
/// </summary>
/// <remarks>Checks that need the machine (device nodes, files, directories, IIO channels) are done here
/// too, so a wrong path is reported at start-up rather than on the first read. Thread-safe (stateless).</remarks>
public static class SensorSourceFactory
{
    public static readonly IReadOnlyList<string> Kinds = ["gpio", "iio", "file", "fifo", "serial", "stdin", "socket", "synthetic"];

    /// <exception cref="SensorConfigurationException">One or more problems; each is listed.</exception>
    public static ISensorSource Create(SensorSourceOptions options, TimeProvider? time = null)
    {
        var problems = new List<string>();
        var source = Build(options, time ?? TimeProvider.System, problems);
        if (problems.Count > 0 || source is null) throw new SensorConfigurationException(problems);
        return source;
    }

    /// <summary>All problems of a configuration (empty when <see cref="Create"/> would succeed).</summary>
    public static IReadOnlyList<string> Validate(SensorSourceOptions options)
    {
        var problems = new List<string>();
        Build(options, TimeProvider.System, problems);
        return problems;
    }

    private static ISensorSource? Build(SensorSourceOptions o, TimeProvider time, List<string> problems)
    {
        string kind = (o.Kind ?? "").Trim().ToLowerInvariant();
        switch (kind)
        {
            case "gpio": return Require(o.Gpio, "gpio", problems) is { } g ? BuildGpio(g, time, problems) : null;
            case "iio": return Require(o.Iio, "iio", problems) is { } i ? BuildIio(i, time, problems) : null;
            case "file" or "fifo" or "serial" or "stdin":
                return Require(o.Stream, "stream", problems, kind) is { } s ? BuildStream(kind, s, time, problems) : null;
            case "socket": return Require(o.Socket, "socket", problems) is { } k ? BuildSocket(k, time, problems) : null;
            case "synthetic": return BuildSynthetic(o.Synthetic ?? new SyntheticSourceOptions(), time, problems);
            default:
                problems.Add(kind.Length == 0
                    ? $"sensors.kind: missing; set one of {string.Join(", ", Kinds)}"
                    : $"sensors.kind: '{o.Kind}' is not one of {string.Join(", ", Kinds)}");
                return null;
        }
    }

    private static T? Require<T>(T? section, string name, List<string> problems, string? kind = null) where T : class
    {
        if (section is null) problems.Add($"sensors.{name}: section is required for kind '{kind ?? name}'");
        return section;
    }

    private static ISensorSource? BuildGpio(GpioSourceOptions o, TimeProvider time, List<string> problems)
    {
        const string p = "sensors.gpio";
        var mode = ParseChoice(o.Mode, $"{p}.mode", problems, ("edges", GpioMode.Edges), ("levels", GpioMode.Levels));
        var edge = ParseChoice(o.Edge, $"{p}.edge", problems, ("both", GpioEdgeDetection.Both), ("rising", GpioEdgeDetection.Rising), ("falling", GpioEdgeDetection.Falling));
        var bias = ParseChoice(o.Bias, $"{p}.bias", problems, ("as-is", GpioBias.AsIs), ("pull-up", GpioBias.PullUp), ("pull-down", GpioBias.PullDown), ("disabled", GpioBias.Disabled));
        var settings = new GpioSettings
        {
            Chip = o.Chip,
            Lines = o.Lines.Select(l => new GpioLineSettings(l.Offset, l.Name)).ToArray(),
            Mode = mode,
            Edge = edge,
            Bias = bias,
            ActiveLow = o.ActiveLow,
            DebounceMicroseconds = o.DebounceUs,
            PollRateHz = o.PollRateHz,
            EventBufferSize = o.EventBufferSize,
            Consumer = o.Consumer,
        };
        problems.AddRange(settings.Validate(p));
        string chip = settings.ChipPath;
        switch (Libc.FileType(chip))
        {
            case null:
                string[] chips = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order().ToArray() : [];
                problems.Add($"{p}.chip: {chip} does not exist" + (chips.Length == 0
                    ? " (this machine has no /dev/gpiochip* devices: no GPIO controller, CONFIG_GPIO_CDEV off, or the service lacks device access)"
                    : $" (available: {string.Join(", ", chips)})"));
                break;
            case Libc.S_IFCHR:
                break;
            default:
                problems.Add($"{p}.chip: {chip} is not a character device");
                break;
        }
        return problems.Count == 0 ? new GpioLineSource(settings, time) : null;
    }

    private static ISensorSource? BuildIio(IioSourceOptions o, TimeProvider time, List<string> problems)
    {
        const string p = "sensors.iio";
        int before = problems.Count;
        if (string.IsNullOrWhiteSpace(o.Device)) problems.Add($"{p}.device: required (directory like iio:device0 or the device's name)");
        if (o.Channels.Count == 0) problems.Add($"{p}.channels: at least one channel is required (e.g. accel_x)");
        CheckUnique(o.Channels, $"{p}.channels", problems);
        if (!(o.RateHz > 0 && o.RateHz <= 10_000)) problems.Add($"{p}.rateHz: must be in (0, 10000] (is {o.RateHz})");
        if (problems.Count > before) return null;
        try
        {
            return new IioSource(new IioSettings { SysfsRoot = o.SysfsRoot, Device = o.Device, Channels = o.Channels.ToArray(), RateHz = o.RateHz }, time);
        }
        catch (SensorSourceException e)
        {
            problems.Add($"{p}: {e.Message}");
            return null;
        }
    }

    private static ISensorSource? BuildStream(string kind, StreamSourceOptions o, TimeProvider time, List<string> problems)
    {
        const string p = "sensors.stream";
        int before = problems.Count;
        var replay = ParseChoice(o.Replay, $"{p}.replay", problems, ("fast", ReplayTiming.AsFastAsPossible), ("recorded", ReplayTiming.Recorded));
        bool channelsFromHeader = kind == "file" && IsCsv(o) && o.CsvHeader;
        var settings = LineSettings(o, p, problems, channelsFromHeader) with { Replay = replay, Speed = o.Speed };
        if (!(o.Speed > 0 && o.Speed <= 1e6)) problems.Add($"{p}.speed: must be in (0, 1000000] (is {o.Speed})");
        if (replay == ReplayTiming.Recorded && string.IsNullOrEmpty(o.TimestampField))
            problems.Add($"{p}.replay: 'recorded' needs timestamps; set {p}.timestampField");
        if (kind != "stdin" && string.IsNullOrWhiteSpace(o.Path)) problems.Add($"{p}.path: required for kind '{kind}'");
        else if (kind != "stdin")
        {
            int? type = Libc.FileType(o.Path);
            switch (kind)
            {
                case "file" when type is null:
                    problems.Add($"{p}.path: {o.Path} does not exist");
                    break;
                case "file" when type != Libc.S_IFREG:
                    problems.Add($"{p}.path: {o.Path} is not a regular file (use kind 'fifo' or 'serial' for those)");
                    break;
                case "fifo" when type is null && !o.CreateFifo:
                    problems.Add($"{p}.path: FIFO {o.Path} does not exist and createFifo is off");
                    break;
                case "fifo" when type is null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(o.Path))):
                    problems.Add($"{p}.path: directory of FIFO {o.Path} does not exist");
                    break;
                case "fifo" when type is not null && type != Libc.S_IFIFO:
                    problems.Add($"{p}.path: {o.Path} exists and is not a FIFO");
                    break;
                case "serial" when type is null:
                    problems.Add($"{p}.path: serial device {o.Path} does not exist");
                    break;
                case "serial" when type != Libc.S_IFCHR:
                    problems.Add($"{p}.path: {o.Path} is not a character device");
                    break;
            }
        }
        if (kind == "serial" && !SerialPortSettings.SupportedBaudRates.ContainsKey(o.BaudRate))
            problems.Add($"{p}.baudRate: {o.BaudRate} is not supported; use one of {string.Join(", ", SerialPortSettings.SupportedBaudRates.Keys)}");
        if (problems.Count > before) return null;
        try
        {
            return kind switch
            {
                "file" => LineStreamSource.ForFile(o.Path, settings, time),
                "fifo" => LineStreamSource.ForFifo(o.Path, settings, o.CreateFifo, o.StopWhenWriterCloses, time),
                "serial" => LineStreamSource.ForSerial(o.Path, o.BaudRate, settings, time),
                _ => LineStreamSource.ForStdin(settings, time),
            };
        }
        catch (SensorSourceException e)
        {
            problems.Add($"{p}: {e.Message}");
            return null;
        }
    }

    private static ISensorSource? BuildSocket(SocketSourceOptions o, TimeProvider time, List<string> problems)
    {
        const string p = "sensors.socket";
        int before = problems.Count;
        var settings = LineSettings(o, p, problems, channelsFromHeader: false);
        if (string.IsNullOrWhiteSpace(o.Path)) problems.Add($"{p}.path: required");
        else if (!Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(o.Path))))
            problems.Add($"{p}.path: directory of {o.Path} does not exist (systemd creates /run/edgeagent with RuntimeDirectory=edgeagent)");
        else if (Libc.FileType(o.Path) is { } type && type != Libc.S_IFSOCK)
            problems.Add($"{p}.path: {o.Path} exists and is not a socket");
        UnixFileMode mode = 0;
        try
        {
            int bits = Convert.ToInt32(o.Mode, 8);
            if (bits is < 0 or > 0x1FF) throw new FormatException();
            mode = (UnixFileMode)bits;
            if ((mode & (UnixFileMode.OtherWrite | UnixFileMode.OtherRead)) != 0)
                problems.Add($"{p}.mode: {o.Mode} lets every local user connect; use 660 or 600 and a group");
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            problems.Add($"{p}.mode: '{o.Mode}' is not an octal permission like 660");
        }
        if (o.MaxClients is < 1 or > 1024) problems.Add($"{p}.maxClients: must be in [1, 1024] (is {o.MaxClients})");
        if (o.QueueCapacity is < 1 or > 1_000_000) problems.Add($"{p}.queueCapacity: must be in [1, 1000000] (is {o.QueueCapacity})");
        if (problems.Count > before) return null;
        return new UnixSocketSource(new UnixSocketSettings
        {
            Path = o.Path, Stream = settings, Mode = mode, MaxClients = o.MaxClients, QueueCapacity = o.QueueCapacity,
        }, time);
    }

    private static ISensorSource? BuildSynthetic(SyntheticSourceOptions o, TimeProvider time, List<string> problems)
    {
        const string p = "sensors.synthetic";
        int before = problems.Count;
        var schedule = new List<SyntheticSegment>();
        foreach (var part in o.Schedule.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bits = part.Split(':', StringSplitOptions.TrimEntries);
            SyntheticActivity? activity = bits[0].ToLowerInvariant() switch
            {
                "idle" => SyntheticActivity.Idle,
                "walk" => SyntheticActivity.Walk,
                "run" => SyntheticActivity.Run,
                "vibration-fault" => SyntheticActivity.VibrationFault,
                _ => null,
            };
            if (activity is null || bits.Length != 2 || !double.TryParse(bits[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
            {
                problems.Add($"{p}.schedule: '{part}' is not class:seconds with class one of idle, walk, run, vibration-fault");
                continue;
            }
            schedule.Add(new SyntheticSegment(activity.Value, seconds));
        }
        var kinds = SyntheticAnomalyKinds.None;
        foreach (var name in o.Anomalies.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (name.ToLowerInvariant())
            {
                case "spike": kinds |= SyntheticAnomalyKinds.Spike; break;
                case "stuck": kinds |= SyntheticAnomalyKinds.Stuck; break;
                case "nan-burst": kinds |= SyntheticAnomalyKinds.NanBurst; break;
                default: problems.Add($"{p}.anomalies: '{name}' is not one of spike, stuck, nan-burst"); break;
            }
        }
        var settings = new SyntheticSettings
        {
            Seed = o.Seed, RateHz = o.RateHz, Schedule = schedule, RealTime = o.RealTime, MaxSamples = o.MaxSamples,
            DriftStartSeconds = o.DriftStartSeconds, DriftMeanPerSecond = o.DriftMeanPerSecond, DriftScalePerSecond = o.DriftScalePerSecond,
            AnomalyRatePerSecond = o.AnomalyRatePerSecond, AnomalyKinds = kinds,
        };
        problems.AddRange(settings.Validate(p));
        return problems.Count > before ? null : new SyntheticSource(settings, time);
    }

    private static bool IsCsv(LineFormatOptions o) => string.Equals(o.Format?.Trim(), "csv", StringComparison.OrdinalIgnoreCase);

    private static LineStreamSettings LineSettings(LineFormatOptions o, string p, List<string> problems, bool channelsFromHeader)
    {
        var format = ParseChoice(o.Format, $"{p}.format", problems, ("csv", LineFormat.Csv), ("jsonl", LineFormat.Jsonl));
        if (o.Channels.Count == 0 && !channelsFromHeader)
            problems.Add($"{p}.channels: required (names of the values in each line, in the order samples should carry them)");
        CheckUnique(o.Channels, $"{p}.channels", problems);
        if (!string.IsNullOrEmpty(o.TimestampField) && o.Channels.Contains(o.TimestampField))
            problems.Add($"{p}.channels: '{o.TimestampField}' is the timestamp field and cannot also be a channel");
        if (o.MaxLineBytes is < 64 or > 1 << 20) problems.Add($"{p}.maxLineBytes: must be in [64, 1048576] (is {o.MaxLineBytes})");
        if (o.NominalRateHz is { } r && !(r > 0)) problems.Add($"{p}.nominalRateHz: must be positive (is {r})");
        return new LineStreamSettings
        {
            Channels = o.Channels.ToArray(), Format = format, CsvHeader = o.CsvHeader,
            TimestampField = string.IsNullOrEmpty(o.TimestampField) ? null : o.TimestampField,
            MaxLineBytes = o.MaxLineBytes, NominalRateHz = o.NominalRateHz,
        };
    }

    private static void CheckUnique(IReadOnlyList<string> names, string path, List<string> problems)
    {
        var duplicates = names.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0) problems.Add($"{path}: duplicate name(s) {string.Join(", ", duplicates)}");
        if (names.Any(string.IsNullOrWhiteSpace)) problems.Add($"{path}: names must not be empty");
    }

    private static T ParseChoice<T>(string? value, string path, List<string> problems, params (string Name, T Value)[] choices)
    {
        foreach (var (name, v) in choices)
            if (string.Equals(value?.Trim(), name, StringComparison.OrdinalIgnoreCase)) return v;
        problems.Add($"{path}: '{value}' is not one of {string.Join(", ", choices.Select(c => c.Name))}");
        return choices[0].Value;
    }
}
