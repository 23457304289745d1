using System.Runtime.CompilerServices;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Synthetic;

/// <summary>
/// <see cref="ISensorSource"/> over a <see cref="SyntheticAccelerometer"/>: channels <c>ax, ay, az</c>, sample
/// <i>i</i> at time start + i / rate on its own timeline, paced on the injected <see cref="TimeProvider"/>
/// when <see cref="SyntheticSettings.RealTime"/> (absolute schedule, no accumulated delay).
/// Prefers <see cref="SampleBackPressure.Wait"/>: a generator can always wait.
/// </summary>
public sealed class SyntheticSource : ISensorSource
{
    private readonly SyntheticSettings _settings;
    private readonly TimeProvider _time;
    private int _started;

    public SyntheticSource(SyntheticSettings settings, TimeProvider? time = null)
    {
        _settings = settings;
        _time = time ?? TimeProvider.System;
        Generator = new SyntheticAccelerometer(settings);
    }

    public string Name => $"synthetic:seed={_settings.Seed}";
    public IReadOnlyList<string> Channels => SyntheticAccelerometer.ChannelNames;
    public double? NominalRateHz => _settings.RateHz;
    public SampleBackPressure PreferredBackPressure => SampleBackPressure.Wait;
    public SensorStats Stats { get; } = new();

    /// <summary>The generator (ground-truth class and injected-anomaly counters).</summary>
    public SyntheticAccelerometer Generator { get; }

    public async IAsyncEnumerable<SensorSample> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException($"{Name}: ReadAllAsync may be enumerated only once");
        var values = new float[3];
        long startTimestamp = _time.GetTimestamp();
        long startNs = SampleClock.NowNs(_time);
        double periodNs = 1e9 / _settings.RateHz;
        for (long i = 0; _settings.MaxSamples is not { } max || i < max; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_settings.RealTime)
            {
                var wait = TimeSpan.FromSeconds(i / _settings.RateHz) - _time.GetElapsedTime(startTimestamp);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
            Generator.Next(values);
            Stats.CountAccepted();
            yield return new SensorSample(startNs + (long)Math.Round(i * periodNs), _time.GetUtcNow(), values);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
