namespace EdgeAgent.Sensors.Sampling;

/// <summary>Converts <see cref="TimeProvider"/> timestamps to the nanosecond timeline of <see cref="SensorSample.TimeNs"/>.</summary>
internal static class SampleClock
{
    public static long NowNs(TimeProvider time) => ToNs(time.GetTimestamp(), time.TimestampFrequency);

    // Int128 because timestamp × 1e9 overflows a long after ~9 s of uptime at a 1 GHz frequency.
    public static long ToNs(long timestamp, long frequency) =>
        frequency == 1_000_000_000 ? timestamp : (long)((Int128)timestamp * 1_000_000_000 / frequency);
}
