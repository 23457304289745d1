namespace EdgeAgent.Sensors.Gpio;

/// <summary>
/// A granted request for a set of GPIO lines: the thin seam between <see cref="GpioLineSource"/> and the
/// kernel. The production implementation is <see cref="GpioCharDevice"/>'s line request fd; tests use
/// recorded data through the same interface because CI cannot load gpio-sim.
/// </summary>
/// <remarks>Used by one reader at a time. Dispose releases the lines.</remarks>
public interface IGpioLines : IDisposable
{
    /// <summary>Logical levels: bit i is the i-th requested line (GPIO_V2_LINE_GET_VALUES_IOCTL).</summary>
    ulong ReadValues();

    /// <summary>Reads whole 48-byte <c>gpio_v2_line_event</c> records; 0 when the request was closed.</summary>
    Task<int> ReadEventsAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>The GPIO character device cannot be used (missing, permission, busy, kernel too old).</summary>
public sealed class GpioUnavailableException(string message) : Sampling.SensorSourceException(message);
