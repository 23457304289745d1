namespace EdgeAgent.Trust.Tests.Infrastructure;

/// <summary>Wall clock under test control; timers and stopwatches stay real (the fetcher's watchdog uses them).</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan by) => Now += by;
}
