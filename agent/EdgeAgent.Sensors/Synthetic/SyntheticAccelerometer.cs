namespace EdgeAgent.Sensors.Synthetic;

/// <summary>
/// Deterministic 3-axis accelerometer signal (see <see cref="SyntheticSettings"/> and
/// <see cref="SyntheticActivity"/> for the models). Same settings and seed ⇒ same values, bit for bit.
/// </summary>
/// <remarks>Not thread-safe. <see cref="Next"/> allocates nothing.</remarks>
public sealed class SyntheticAccelerometer
{
    public static readonly IReadOnlyList<string> ChannelNames = ["ax", "ay", "az"];
    private const ulong AnomalyStreamSalt = 0xA5A5_5A5A_0F0F_F0F0UL;
    private readonly SyntheticSettings _settings;
    private readonly double _period;
    private readonly double _scheduleSeconds;
    private Xoshiro256 _signalRandom;
    private Xoshiro256 _anomalyRandom;
    private readonly double[] _phase = new double[3];
    private int _segment = -1;
    private int _stuckLeft, _stuckAxis;
    private float _stuckValue;
    private int _nanLeft, _nanAxis;

    public SyntheticAccelerometer(SyntheticSettings settings)
    {
        var problems = settings.Validate();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems), nameof(settings));
        _settings = settings;
        _period = 1.0 / settings.RateHz;
        _scheduleSeconds = settings.Schedule.Sum(s => s.Seconds);
        _signalRandom = new Xoshiro256(settings.Seed);
        _anomalyRandom = new Xoshiro256(settings.Seed ^ AnomalyStreamSalt);
    }

    /// <summary>Index of the next sample.</summary>
    public long SampleIndex { get; private set; }

    /// <summary>Class of the most recent sample (ground truth for demos and tests).</summary>
    public SyntheticActivity CurrentActivity { get; private set; }

    public long SpikesInjected { get; private set; }
    public long StuckRunsInjected { get; private set; }
    public long NanBurstsInjected { get; private set; }
    /// <summary>Samples that carry at least one NaN.</summary>
    public long NanSamplesInjected { get; private set; }

    /// <summary>Writes the next sample (ax, ay, az in g) into <paramref name="values"/> (length ≥ 3).</summary>
    public void Next(Span<float> values)
    {
        double t = SampleIndex * _period;
        SampleIndex++;
        int segment = SegmentAt(t, out double segmentStart);
        if (segment != _segment)
        {
            _segment = segment;
            for (int i = 0; i < 3; i++) _phase[i] = _signalRandom.NextDouble() * 2 * Math.PI;
        }
        var activity = _settings.Schedule[segment].Activity;
        CurrentActivity = activity;
        double local = t - segmentStart;
        double x, y, z;
        switch (activity)
        {
            case SyntheticActivity.Walk:
            {
                double w = 2 * Math.PI * 1.8;
                x = 0.25 * Math.Sin(w * local + _phase[0]) + 0.05 * Math.Sin(2 * w * local + _phase[1]) + 0.03 * _signalRandom.NextGaussian();
                y = 0.15 * Math.Sin(w * local + _phase[1]) + 0.03 * _signalRandom.NextGaussian();
                z = 1 + 0.35 * Math.Sin(2 * w * local + _phase[2]) + 0.03 * _signalRandom.NextGaussian();
                break;
            }
            case SyntheticActivity.Run:
            {
                double w = 2 * Math.PI * 2.8;
                x = 0.8 * Math.Sin(w * local + _phase[0]) + 0.08 * _signalRandom.NextGaussian();
                y = 0.5 * Math.Sin(w * local + _phase[1]) + 0.08 * _signalRandom.NextGaussian();
                z = 1 + 1.2 * Math.Sin(w * local + _phase[2]) + 0.08 * _signalRandom.NextGaussian();
                break;
            }
            case SyntheticActivity.VibrationFault:
            {
                double w = 2 * Math.PI * 0.37 * _settings.RateHz;
                x = 0.4 * Math.Sin(w * local + _phase[0]) + 0.05 * _signalRandom.NextGaussian();
                y = 0.4 * Math.Sin(w * local + _phase[1]) + 0.05 * _signalRandom.NextGaussian();
                z = 1 + 0.4 * Math.Sin(w * local + _phase[2]) + 0.05 * _signalRandom.NextGaussian();
                break;
            }
            default:
                x = 0.01 * _signalRandom.NextGaussian();
                y = 0.01 * _signalRandom.NextGaussian();
                z = 1 + 0.01 * _signalRandom.NextGaussian();
                break;
        }

        double tau = t - _settings.DriftStartSeconds;
        if (tau > 0 && (_settings.DriftMeanPerSecond != 0 || _settings.DriftScalePerSecond != 0))
        {
            double scale = 1 + _settings.DriftScalePerSecond * tau;
            double shift = _settings.DriftMeanPerSecond * tau;
            x = x * scale + shift;
            y = y * scale + shift;
            z = z * scale + shift;
        }
        values[0] = (float)x;
        values[1] = (float)y;
        values[2] = (float)z;
        InjectAnomalies(values);
    }

    private void InjectAnomalies(Span<float> values)
    {
        if (_stuckLeft > 0)
        {
            values[_stuckAxis] = _stuckValue;
            _stuckLeft--;
        }
        if (_nanLeft > 0)
        {
            values[_nanAxis] = float.NaN;
            _nanLeft--;
            NanSamplesInjected++;
            return;
        }
        if (_settings.AnomalyRatePerSecond <= 0 || _settings.AnomalyKinds == SyntheticAnomalyKinds.None) return;
        // Always draw the same number of values per sample so the anomaly stream stays aligned.
        double start = _anomalyRandom.NextDouble();
        double kindDraw = _anomalyRandom.NextDouble();
        int axis = _anomalyRandom.NextInt(3);
        double sign = _anomalyRandom.NextDouble() < 0.5 ? -1 : 1;
        if (start >= _settings.AnomalyRatePerSecond * _period || _stuckLeft > 0) return;

        Span<SyntheticAnomalyKinds> enabled = stackalloc SyntheticAnomalyKinds[3];
        int n = 0;
        foreach (var k in (ReadOnlySpan<SyntheticAnomalyKinds>)[SyntheticAnomalyKinds.Spike, SyntheticAnomalyKinds.Stuck, SyntheticAnomalyKinds.NanBurst])
            if ((_settings.AnomalyKinds & k) != 0) enabled[n++] = k;
        switch (enabled[Math.Min(n - 1, (int)(kindDraw * n))])
        {
            case SyntheticAnomalyKinds.Spike:
                values[axis] += (float)(sign * _settings.SpikeMagnitude);
                SpikesInjected++;
                break;
            case SyntheticAnomalyKinds.Stuck:
                _stuckAxis = axis;
                _stuckValue = values[axis];
                _stuckLeft = _settings.StuckSamples - 1; // this sample is the first of the run
                StuckRunsInjected++;
                break;
            case SyntheticAnomalyKinds.NanBurst:
                _nanAxis = axis;
                values[axis] = float.NaN;
                _nanLeft = _settings.NanBurstSamples - 1;
                NanBurstsInjected++;
                NanSamplesInjected++;
                break;
        }
    }

    private int SegmentAt(double t, out double segmentStart)
    {
        double cycleStart = Math.Floor(t / _scheduleSeconds) * _scheduleSeconds;
        double offset = t - cycleStart;
        double acc = 0;
        for (int i = 0; i < _settings.Schedule.Count; i++)
        {
            double next = acc + _settings.Schedule[i].Seconds;
            if (offset < next || i == _settings.Schedule.Count - 1)
            {
                segmentStart = cycleStart + acc;
                return i;
            }
            acc = next;
        }
        segmentStart = cycleStart;
        return 0;
    }
}
