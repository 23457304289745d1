namespace EdgeAgent.Sensors.Gpio;

/// <summary>What a GPIO source reports.</summary>
public enum GpioMode
{
    /// <summary>One sample per edge event (kernel-timestamped), carrying the levels of all lines.</summary>
    Edges,
    /// <summary>Levels of all lines polled at <see cref="GpioSettings.PollRateHz"/>.</summary>
    Levels,
}

/// <summary>Which edges generate events in <see cref="GpioMode.Edges"/>.</summary>
public enum GpioEdgeDetection
{
    Both,
    Rising,
    Falling,
}

/// <summary>Input bias applied to all lines.</summary>
public enum GpioBias
{
    /// <summary>Leave the bias as it is.</summary>
    AsIs,
    PullUp,
    PullDown,
    Disabled,
}

/// <summary>One requested line.</summary>
/// <param name="Offset">Line offset on the chip (see <c>gpioinfo</c>).</param>
/// <param name="Name">Channel name; defaults to <c>line{offset}</c>.</param>
public sealed record GpioLineSettings(uint Offset, string? Name = null)
{
    public string ChannelName => string.IsNullOrEmpty(Name) ? $"line{Offset}" : Name;
}

/// <summary>Configuration of a GPIO character-device source. Flags apply to every line of the request.</summary>
public sealed record GpioSettings
{
    /// <summary>Chip device, <c>/dev/gpiochip0</c> (a bare <c>gpiochip0</c> is looked up under /dev).</summary>
    public string Chip { get; init; } = "/dev/gpiochip0";
    public IReadOnlyList<GpioLineSettings> Lines { get; init; } = [];
    public GpioMode Mode { get; init; } = GpioMode.Edges;
    public GpioEdgeDetection Edge { get; init; } = GpioEdgeDetection.Both;
    /// <summary>Report logical levels inverted (the kernel inverts values and edges).</summary>
    public bool ActiveLow { get; init; }
    public GpioBias Bias { get; init; } = GpioBias.AsIs;
    /// <summary>Kernel debounce period (0 = off); the kernel then reports only edges stable this long.</summary>
    public uint DebounceMicroseconds { get; init; }
    /// <summary>Polling rate in <see cref="GpioMode.Levels"/>.</summary>
    public double PollRateHz { get; init; } = 100;
    /// <summary>Kernel event FIFO size in events (0: kernel default, 16 per line).</summary>
    public uint EventBufferSize { get; init; }
    /// <summary>Consumer label shown by <c>gpioinfo</c> (at most 31 bytes).</summary>
    public string Consumer { get; init; } = "edgeagent";

    /// <summary>The chip path with a bare name resolved under /dev.</summary>
    public string ChipPath => Chip.Contains('/') ? Chip : "/dev/" + Chip;

    /// <summary>Every problem that does not need the device, one message each.</summary>
    public IReadOnlyList<string> Validate(string prefix = "sensors.gpio")
    {
        var problems = new List<string>();
        if (Lines.Count == 0) problems.Add($"{prefix}.lines: at least one line offset is required");
        if (Lines.Count > GpioUapi.LinesMax) problems.Add($"{prefix}.lines: at most {GpioUapi.LinesMax} lines per request (has {Lines.Count})");
        var dupOffsets = Lines.GroupBy(l => l.Offset).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (dupOffsets.Length > 0) problems.Add($"{prefix}.lines: offset(s) {string.Join(", ", dupOffsets)} requested twice");
        var dupNames = Lines.GroupBy(l => l.ChannelName).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (dupNames.Length > 0) problems.Add($"{prefix}.lines: channel name(s) {string.Join(", ", dupNames)} used twice");
        if (Mode == GpioMode.Levels && !(PollRateHz > 0 && PollRateHz <= 10_000))
            problems.Add($"{prefix}.pollRateHz: must be in (0, 10000] (is {PollRateHz})");
        if (System.Text.Encoding.UTF8.GetByteCount(Consumer) >= GpioUapi.MaxNameSize)
            problems.Add($"{prefix}.consumer: at most {GpioUapi.MaxNameSize - 1} bytes");
        return problems;
    }
}
