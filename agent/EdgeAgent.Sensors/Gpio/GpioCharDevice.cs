using System.Text;
using EdgeAgent.Sensors.Native;

namespace EdgeAgent.Sensors.Gpio;

/// <summary>
/// Opens a GPIO chip and requests lines through the v2 character-device uAPI. Only syscalls and struct
/// filling live here; event decoding and sampling are in <see cref="GpioEventDecoder"/> and
/// <see cref="GpioLineSource"/>.
/// </summary>
public static unsafe class GpioCharDevice
{
    /// <summary>Requests the configured lines; the returned handle owns the line fd.</summary>
    /// <exception cref="GpioUnavailableException">Chip missing, permission denied, line busy or out of range.</exception>
    public static IGpioLines RequestLines(GpioSettings settings)
    {
        string chip = settings.ChipPath;
        int chipFd = Libc.Open(chip, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (chipFd < 0) throw OpenFailure(chip);
        try
        {
            GpioChipInfo info;
            if (Libc.Ioctl(chipFd, GpioUapi.GetChipInfo, &info) != 0)
                throw IoctlFailure(chip, "GPIO_GET_CHIPINFO_IOCTL");
            string label = CString(info.Label, GpioUapi.MaxNameSize);
            foreach (var line in settings.Lines)
                if (line.Offset >= info.Lines)
                    throw new GpioUnavailableException(
                        $"{chip} ({label}) has {info.Lines} lines; line offset {line.Offset} is out of range (0..{info.Lines - 1})");

            var request = BuildRequest(settings);
            if (Libc.Ioctl(chipFd, GpioUapi.GetLineV2, &request) != 0)
                throw IoctlFailure(chip, "GPIO_V2_GET_LINE_IOCTL");
            return new GpioLineHandle(request.Fd, settings.Lines.Count, $"GPIO lines {string.Join(",", settings.Lines.Select(l => l.Offset))} of {chip}");
        }
        finally
        {
            Libc.Close(chipFd); // the line fd stays valid on its own
        }
    }

    /// <summary>Fills <c>struct gpio_v2_line_request</c> from the settings (pure; tested against the uAPI).</summary>
    internal static GpioV2LineRequest BuildRequest(GpioSettings settings)
    {
        var request = default(GpioV2LineRequest);
        for (int i = 0; i < settings.Lines.Count; i++) request.Offsets[i] = settings.Lines[i].Offset;
        var consumer = Encoding.UTF8.GetBytes(settings.Consumer);
        for (int i = 0; i < consumer.Length && i < GpioUapi.MaxNameSize - 1; i++) request.Consumer[i] = consumer[i];
        request.NumLines = (uint)settings.Lines.Count;
        request.EventBufferSize = settings.EventBufferSize;

        ulong flags = GpioUapi.FlagInput;
        if (settings.ActiveLow) flags |= GpioUapi.FlagActiveLow;
        flags |= settings.Bias switch
        {
            GpioBias.PullUp => GpioUapi.FlagBiasPullUp,
            GpioBias.PullDown => GpioUapi.FlagBiasPullDown,
            GpioBias.Disabled => GpioUapi.FlagBiasDisabled,
            _ => 0,
        };
        if (settings.Mode == GpioMode.Edges)
            flags |= settings.Edge switch
            {
                GpioEdgeDetection.Rising => GpioUapi.FlagEdgeRising,
                GpioEdgeDetection.Falling => GpioUapi.FlagEdgeFalling,
                _ => GpioUapi.FlagEdgeRising | GpioUapi.FlagEdgeFalling,
            };
        request.Config.Flags = flags;
        if (settings.DebounceMicroseconds > 0)
        {
            // Debounce is an attribute applied to the lines in its mask (gpio.h: gpio_v2_line_config_attribute).
            request.Config.NumAttrs = 1;
            request.Config.Attrs[0].Attr.Id = GpioUapi.AttrIdDebounce;
            request.Config.Attrs[0].Attr.DebouncePeriodUs = settings.DebounceMicroseconds;
            request.Config.Attrs[0].Mask = settings.Lines.Count == 64 ? ulong.MaxValue : (1UL << settings.Lines.Count) - 1;
        }
        request.Fd = -1;
        return request;
    }

    private static GpioUnavailableException OpenFailure(string chip)
    {
        var (errno, text) = Libc.LastError();
        if (errno == Libc.ENOENT)
        {
            string[] chips = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order().ToArray() : [];
            string present = chips.Length == 0
                ? "this machine has no GPIO character devices (/dev/gpiochip*): the kernel needs CONFIG_GPIO_CDEV and a GPIO controller, or the service needs DeviceAllow=/dev/gpiochip* access"
                : $"available: {string.Join(", ", chips)}";
            return new GpioUnavailableException($"sensors.gpio.chip: {chip} does not exist ({present})");
        }
        if (errno == Libc.EACCES)
            return new GpioUnavailableException($"sensors.gpio.chip: permission denied opening {chip}; add the service user to the 'gpio' group or grant DeviceAllow={chip} rw");
        return new GpioUnavailableException($"sensors.gpio.chip: cannot open {chip}: {text} (errno {errno})");
    }

    private static GpioUnavailableException IoctlFailure(string chip, string call)
    {
        var (errno, text) = Libc.LastError();
        string hint = errno switch
        {
            16 => " — a line is already in use by another consumer (see gpioinfo)",
            22 => " — the kernel rejected the request (Linux < 5.10 has no v2 uAPI, or the flags are not supported by this controller)",
            Libc.ENOTTY => " — the device is not a GPIO chip",
            _ => "",
        };
        return new GpioUnavailableException($"{chip}: {call} failed: {text} (errno {errno}){hint}");
    }

    private static string CString(byte* bytes, int max)
    {
        int n = 0;
        while (n < max && bytes[n] != 0) n++;
        return Encoding.UTF8.GetString(bytes, n);
    }
}

/// <summary>A line request fd: events via poll + read, levels via GPIO_V2_LINE_GET_VALUES_IOCTL.</summary>
internal sealed unsafe class GpioLineHandle : IGpioLines
{
    private readonly FileDescriptorReader _reader;
    private readonly ulong _mask;
    private readonly string _description;

    public GpioLineHandle(int fd, int lineCount, string description)
    {
        _reader = new FileDescriptorReader(fd, ownsFd: true, description);
        _mask = lineCount == 64 ? ulong.MaxValue : (1UL << lineCount) - 1;
        _description = description;
    }

    public ulong ReadValues()
    {
        var values = new GpioV2LineValues { Mask = _mask };
        if (Libc.Ioctl(_reader.Fd, GpioUapi.LineGetValuesV2, &values) != 0)
        {
            var (errno, text) = Libc.LastError();
            throw new GpioUnavailableException($"{_description}: GPIO_V2_LINE_GET_VALUES_IOCTL failed: {text} (errno {errno})");
        }
        return values.Bits & _mask;
    }

    public Task<int> ReadEventsAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _reader.ReadAsync(buffer, cancellationToken);

    public void Dispose() => _reader.Dispose();
}
