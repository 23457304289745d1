using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Windowing;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Windowing;

public sealed class SampleTimingMonitorTests
{
    [Fact]
    public void Observed_rate_below_tolerance_is_reported_once_as_a_rate_warning()
    {
        var stats = new SensorStats();
        var monitor = new SampleTimingMonitor(nominalRateHz: 100, gapPeriods: 3, rateTolerance: 0.05, stats);
        long period = 1_000_000_000L / 80; // 80 Hz against a nominal 100 Hz
        for (int i = 0; i < 200; i++) Assert.Equal(SampleTiming.InSequence, monitor.Observe(i * period));
        Assert.Equal(80.0, monitor.ObservedRateHz!.Value, 3);
        Assert.Equal(80.0, stats.ObservedRateHz!.Value, 3);
        Assert.True(monitor.IsOffNominal);
        Assert.Equal(1, stats.RateWarnings);
        var snapshot = stats.Snapshot();
        Assert.Equal(100.0, snapshot.NominalRateHz);
        Assert.Equal(80.0, snapshot.ObservedRateHz!.Value, 3);
        Assert.True(snapshot.RateOffNominal);

        // Back at the nominal rate the flag clears; the warning count keeps the history.
        long t = 199 * period;
        for (int i = 0; i < 400; i++) monitor.Observe(t += 10_000_000);
        Assert.False(stats.RateOffNominal);
        Assert.Equal(1, stats.RateWarnings);
    }

    [Fact]
    public void Nominal_rate_with_jitter_gives_no_warning()
    {
        var stats = new SensorStats();
        var monitor = new SampleTimingMonitor(100, 3, 0.05, stats);
        long t = 0;
        for (int i = 0; i < 500; i++)
        {
            t += 10_000_000 + (i % 2 == 0 ? 1_500_000 : -1_500_000); // ±15 % jitter around 10 ms
            monitor.Observe(t);
        }
        Assert.False(monitor.IsOffNominal);
        Assert.Equal(0, stats.RateWarnings);
        Assert.Equal(100.0, monitor.ObservedRateHz!.Value, 0);
    }

    [Fact]
    public void Gaps_are_excluded_from_the_rate_and_counted()
    {
        var stats = new SensorStats();
        var monitor = new SampleTimingMonitor(50, 2.5, 0.1, stats);
        Assert.Equal(SampleTiming.InSequence, monitor.Observe(0));
        Assert.Equal(SampleTiming.InSequence, monitor.Observe(20_000_000));
        Assert.Equal(SampleTiming.InSequence, monitor.Observe(70_000_000)); // 2.5 periods: not more than the threshold
        Assert.Equal(SampleTiming.Gap, monitor.Observe(121_000_000));     // 2.55 periods
        Assert.Equal(SampleTiming.WentBackwards, monitor.Observe(100_000_000));
        Assert.Equal(1, stats.Gaps);
        Assert.Equal(1, stats.Bad(BadSampleReason.TimeWentBackwards));
    }

    [Fact]
    public void Without_a_nominal_rate_no_gap_is_detected_but_the_rate_is_observed()
    {
        var stats = new SensorStats();
        var monitor = new SampleTimingMonitor(null, 3, 0.1, stats);
        monitor.Observe(0);
        Assert.Equal(SampleTiming.InSequence, monitor.Observe(5_000_000_000));
        Assert.Equal(0.2, monitor.ObservedRateHz!.Value, 6);
        Assert.Equal(0, stats.Gaps);
    }
}
