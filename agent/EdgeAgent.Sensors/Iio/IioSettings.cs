namespace EdgeAgent.Sensors.Iio;

/// <summary>Configuration of an IIO sysfs source.</summary>
public sealed record IioSettings
{
    /// <summary>Where IIO devices appear; injectable so tests (and containers) can point elsewhere.</summary>
    public string SysfsRoot { get; init; } = "/sys/bus/iio/devices";
    /// <summary>Device directory (<c>iio:device0</c>) or the content of its <c>name</c> file (<c>lsm6dsl_accel</c>).</summary>
    public required string Device { get; init; }
    /// <summary>Channels without the <c>in_</c> prefix and <c>_raw</c> suffix, e.g. <c>accel_x</c>, <c>voltage0</c>.</summary>
    public required IReadOnlyList<string> Channels { get; init; }
    /// <summary>Polling rate.</summary>
    public double RateHz { get; init; } = 50;
    /// <summary>Consecutive unreadable polls after which the device is considered gone (the source fails).</summary>
    public int MaxConsecutiveReadFailures { get; init; } = 100;
}
