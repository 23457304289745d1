namespace EdgeAgent.Hosting.Tests.Support;

/// <summary>A clock that moves only when told (timestamps and wall time); timers are not faked.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _ticks;

    public ManualTimeProvider() : this(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero)) { }

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override DateTimeOffset GetUtcNow() => start + TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
}
