namespace EdgeAgent.Sensors.Sampling;

/// <summary>
/// One reading of every channel of a source at one instant.
/// </summary>
/// <param name="TimeNs">
/// Time of the sample on the source's own monotonic timeline, in nanoseconds. Rate checks and gap
/// detection use this value: for GPIO it is the kernel's CLOCK_MONOTONIC event time, for replayed
/// data it is the timestamp recorded in the data, otherwise the arrival time on
/// <see cref="TimeProvider.GetTimestamp"/> converted to nanoseconds.
/// </param>
/// <param name="WallTime">Wall-clock time at which the sample was taken or received.</param>
/// <param name="Values">
/// One value per entry of <see cref="ISensorSource.Channels"/>, in that order.
/// <para><b>Ownership:</b> the memory is lent by the source and reused for the next sample. It is valid
/// only until the consumer asks the enumerator for the next sample; copy it to keep it.</para>
/// </param>
public readonly record struct SensorSample(long TimeNs, DateTimeOffset WallTime, ReadOnlyMemory<float> Values);
