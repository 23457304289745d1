namespace EdgeAgent.Sensors.Sampling;

/// <summary>
/// A source of multi-channel sensor samples (GPIO, IIO, line stream, Unix socket, synthetic).
/// </summary>
/// <remarks>
/// <para><b>Contract:</b> <see cref="ReadAllAsync"/> may be enumerated once, by one consumer. Samples come
/// in non-decreasing <see cref="SensorSample.TimeNs"/> order when the data allows it; anything the
/// source cannot turn into a sample (unparseable line, wrong field count, unknown channel, ...) is
/// counted in <see cref="Stats"/> and skipped, never thrown. Exceptions are reserved for faults of the
/// source itself (device vanished, file unreadable) and carry an operator-readable message.</para>
/// <para><b>Cancellation:</b> cancelling the token ends the enumeration promptly (within about 100 ms for
/// descriptors that are polled) with <see cref="OperationCanceledException"/>.</para>
/// <para><b>Resources:</b> the device, file or socket is opened when enumeration starts and released when it
/// ends (data exhausted, fault, cancellation, or the consumer disposing the enumerator);
/// <see cref="IAsyncDisposable.DisposeAsync"/> is for state a source keeps beyond one enumeration (none of
/// the current sources keep any).</para>
/// </remarks>
public interface ISensorSource : IAsyncDisposable
{
    /// <summary>Short name for logs and stats, e.g. <c>gpio:/dev/gpiochip0</c>.</summary>
    string Name { get; }

    /// <summary>Channel names, in the order of <see cref="SensorSample.Values"/>.</summary>
    IReadOnlyList<string> Channels { get; }

    /// <summary>Expected sample rate, or null when samples are event driven (GPIO edges, sockets).</summary>
    double? NominalRateHz { get; }

    /// <summary>
    /// What the pipeline should do when its consumer falls behind this source (see
    /// <see cref="SampleBackPressure"/>): sources that can wait (files, FIFOs, the generator) block,
    /// live devices drop the oldest queued sample.
    /// </summary>
    SampleBackPressure PreferredBackPressure { get; }

    /// <summary>Counters for this source; thread-safe, live.</summary>
    SensorStats Stats { get; }

    /// <summary>Reads samples until the data ends (files) or the token is cancelled (live sources).</summary>
    IAsyncEnumerable<SensorSample> ReadAllAsync(CancellationToken cancellationToken);
}
