using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Synthetic;

public sealed class SyntheticGeneratorTests
{
    private static float[][] Generate(SyntheticSettings settings, int count, SyntheticAccelerometer? generator = null)
    {
        generator ??= new SyntheticAccelerometer(settings);
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = new float[3];
            generator.Next(rows[i]);
        }
        return rows;
    }

    private static double Std(IEnumerable<float> values)
    {
        var v = values.Select(x => (double)x).ToArray();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    [Fact]
    public void Same_seed_gives_the_same_stream_bit_for_bit_and_another_seed_does_not()
    {
        var settings = new SyntheticSettings { Seed = 42, AnomalyRatePerSecond = 0.5, DriftMeanPerSecond = 0.01 };
        var a = Generate(settings, 5000);
        var b = Generate(settings, 5000);
        var c = Generate(settings with { Seed = 43 }, 5000);
        Assert.True(a.Zip(b).All(p => p.First.AsSpan().SequenceEqual(p.Second)));
        Assert.False(a.Zip(c).All(p => p.First.AsSpan().SequenceEqual(p.Second)));
    }

    [Fact]
    public void Classes_follow_the_schedule_and_have_their_documented_signal_statistics()
    {
        var settings = new SyntheticSettings
        {
            Seed = 7, RateHz = 100,
            Schedule = [new(SyntheticActivity.Idle, 5), new(SyntheticActivity.Walk, 5), new(SyntheticActivity.Run, 5), new(SyntheticActivity.VibrationFault, 5)],
        };
        var generator = new SyntheticAccelerometer(settings);
        var classes = new List<SyntheticActivity>();
        var rows = new List<float[]>();
        for (int i = 0; i < 2000; i++)
        {
            var row = new float[3];
            generator.Next(row);
            rows.Add(row);
            classes.Add(generator.CurrentActivity);
        }
        Assert.Equal(SyntheticActivity.Idle, classes[499]);
        Assert.Equal(SyntheticActivity.Walk, classes[500]);
        Assert.Equal(SyntheticActivity.Run, classes[1000]);
        Assert.Equal(SyntheticActivity.VibrationFault, classes[1999]);

        double StdZ(int segment) => Std(rows.Skip(segment * 500).Take(500).Select(r => r[2]));
        double MeanZ(int segment) => rows.Skip(segment * 500).Take(500).Average(r => r[2]);
        // Sine amplitude A has standard deviation A/√2; noise adds in quadrature.
        Assert.InRange(StdZ(0), 0.008, 0.012);                                      // idle: σ 0.01
        Assert.InRange(StdZ(1), 0.35 / Math.Sqrt(2) * 0.95, 0.35 / Math.Sqrt(2) * 1.05 + 0.01); // walk
        Assert.InRange(StdZ(2), 1.2 / Math.Sqrt(2) * 0.95, 1.2 / Math.Sqrt(2) * 1.05 + 0.01);   // run
        Assert.InRange(StdZ(3), 0.4 / Math.Sqrt(2) * 0.95, 0.4 / Math.Sqrt(2) * 1.05 + 0.01);   // vibration
        for (int s = 0; s < 4; s++) Assert.InRange(MeanZ(s), 0.95, 1.05);              // gravity on z

        // Vibration is fast (0.37 × rate): far more sign changes around the mean than walking.
        int Crossings(int segment) => rows.Skip(segment * 500).Take(500).Select(r => r[0]).Zip(rows.Skip(segment * 500 + 1).Take(499).Select(r => r[0]))
            .Count(p => Math.Sign(p.First) != Math.Sign(p.Second));
        Assert.True(Crossings(3) > 5 * Crossings(1), $"vibration {Crossings(3)} vs walk {Crossings(1)} zero crossings");
    }

    [Fact]
    public void Drift_scales_and_shifts_every_value_after_its_start_as_documented()
    {
        var plain = new SyntheticSettings { Seed = 3, RateHz = 50 };
        var drifting = plain with { DriftStartSeconds = 10, DriftMeanPerSecond = 0.02, DriftScalePerSecond = 0.01 };
        var a = Generate(plain, 3000);
        var b = Generate(drifting, 3000);
        for (int i = 0; i < a.Length; i++)
        {
            double tau = Math.Max(0, i / 50.0 - 10);
            for (int axis = 0; axis < 3; axis++)
            {
                double expected = tau > 0 ? a[i][axis] * (1 + 0.01 * tau) + 0.02 * tau : a[i][axis];
                Assert.Equal(expected, b[i][axis], tolerance: 1e-5);
            }
        }
        // 50 s after the start the mean of z has moved by about 1 g × 0.5 (scale) + 1.0 (shift).
        double shift = b.Skip(2950).Average(r => r[2]) - a.Skip(2950).Average(r => r[2]);
        Assert.InRange(shift, 1.4, 1.6);
    }

    [Fact]
    public void Spikes_change_exactly_the_counted_samples_by_the_spike_magnitude()
    {
        var plain = new SyntheticSettings { Seed = 11, RateHz = 50 };
        var spiky = plain with { AnomalyRatePerSecond = 1, AnomalyKinds = SyntheticAnomalyKinds.Spike, SpikeMagnitude = 8 };
        var generator = new SyntheticAccelerometer(spiky);
        var a = Generate(plain, 5000);
        var b = Generate(spiky, 5000, generator);
        var diffs = a.Zip(b).SelectMany(p => Enumerable.Range(0, 3).Select(k => Math.Abs(p.Second[k] - p.First[k]))).Where(d => d > 1e-6).ToArray();
        Assert.InRange(generator.SpikesInjected, 50, 150); // ≈ 100 expected at 1/s over 100 s
        Assert.Equal(generator.SpikesInjected, diffs.Length);
        Assert.All(diffs, d => Assert.Equal(8.0, d, 3));
    }

    [Fact]
    public void Nan_bursts_and_stuck_values_are_injected_as_counted()
    {
        var plain = new SyntheticSettings { Seed = 5, RateHz = 50 };
        var nan = new SyntheticAccelerometer(plain with { AnomalyRatePerSecond = 0.5, AnomalyKinds = SyntheticAnomalyKinds.NanBurst, NanBurstSamples = 5 });
        var withNan = Generate(plain, 5000, nan);
        int nanSamples = withNan.Count(r => r.Any(float.IsNaN));
        Assert.True(nan.NanBurstsInjected > 10);
        Assert.Equal(nan.NanSamplesInjected, nanSamples);
        Assert.InRange(nanSamples, nan.NanBurstsInjected * 5 - 4, nan.NanBurstsInjected * 5);

        var stuck = new SyntheticAccelerometer(plain with { AnomalyRatePerSecond = 0.5, AnomalyKinds = SyntheticAnomalyKinds.Stuck, StuckSamples = 20 });
        var a = Generate(plain, 5000);
        var b = Generate(plain, 5000, stuck);
        int changed = a.Zip(b).Count(p => !p.First.AsSpan().SequenceEqual(p.Second));
        Assert.True(stuck.StuckRunsInjected > 10);
        Assert.InRange(changed, stuck.StuckRunsInjected * 19 - 19, stuck.StuckRunsInjected * 19);
        // Each run holds one axis constant for 20 samples.
        int runs = 0;
        for (int axis = 0; axis < 3; axis++)
            for (int i = 0; i + 20 <= b.Length; i++)
                if (Enumerable.Range(i, 20).All(j => b[j][axis] == b[i][axis]) && (i == 0 || b[i - 1][axis] != b[i][axis])) runs++;
        Assert.Equal(stuck.StuckRunsInjected, runs);
    }

    [Fact]
    public async Task Source_paces_samples_on_the_time_provider_with_exact_sample_times()
    {
        var time = new ManualTimeProvider();
        await using var source = new SyntheticSource(new SyntheticSettings { Seed = 1, RateHz = 40, MaxSamples = 3 }, time);
        var reading = Collect.SamplesAsync(source);
        for (int n = 1; n < 3; n++)
        {
            int expected = n;
            await Eventually.True(() => source.Stats.Accepted == expected && time.ArmedTimers == 1, $"sample {n} then a wait");
            time.Advance(TimeSpan.FromMilliseconds(25));
        }
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(new long[] { 0, 25_000_000, 50_000_000 }, samples.Select(s => s.TimeNs - samples[0].TimeNs));
        Assert.Equal(new[] { 0, 25, 50 }, samples.Select(s => (int)(s.WallTime - samples[0].WallTime).TotalMilliseconds));
        Assert.Equal(new[] { "ax", "ay", "az" }, source.Channels);
    }
}
