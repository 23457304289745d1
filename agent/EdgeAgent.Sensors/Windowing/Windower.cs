using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Windowing;

/// <summary>Result of pushing one sample into a <see cref="Windower"/>.</summary>
public enum WindowerResult
{
    /// <summary>Stored; no window is complete yet.</summary>
    Buffered,
    /// <summary>Stored and a window is complete: call <see cref="Windower.WriteWindow"/> before the next push.</summary>
    WindowReady,
    /// <summary>Not stored (non-finite value, wrong length, time went backwards); counted in the stats.</summary>
    Rejected,
}

/// <summary>Where a window sits in time; returned by <see cref="Windower.WriteWindow"/>.</summary>
/// <param name="Sequence">1 for the first window of this windower, then 2, 3, ...</param>
/// <param name="FirstSampleTimeNs">Time of the oldest sample in the window.</param>
/// <param name="LastSampleTimeNs">Time of the newest sample in the window.</param>
/// <param name="LastWallTime">Wall-clock time of the newest sample.</param>
public readonly record struct WindowInfo(long Sequence, long FirstSampleTimeNs, long LastSampleTimeNs, DateTimeOffset LastWallTime);

/// <summary>
/// Assembles fixed-length, hopped, normalized windows from samples, in the model's channel order and
/// tensor layout, into a caller-provided span (typically the inference engine's pinned input buffer).
/// </summary>
/// <remarks>
/// <para><b>Windows:</b> the first window completes after <see cref="WindowSpec.Length"/> accepted samples,
/// then one every <see cref="WindowSpec.Hop"/> samples. A gap reported by the
/// <see cref="SampleTimingMonitor"/> restarts the count: a window never spans a gap.</para>
/// <para><b>Bad samples</b> (a non-finite value on a channel the model uses, a value vector of the wrong
/// length, time going backwards) are counted in <see cref="SensorStats"/> and skipped, never thrown;
/// a skipped sample is not imputed.</para>
/// <para><b>Cost:</b> samples are normalized once on push into a ring of <c>Length × channels</c> floats kept
/// in the output layout; a window is written with block copies. <see cref="Push"/> and
/// <see cref="WriteWindow"/> allocate nothing.</para>
/// <para><b>Thread safety:</b> none; one windower per pipeline, used by one thread at a time.</para>
/// </remarks>
public sealed class Windower
{
    private readonly int _length;
    private readonly int _hop;
    private readonly int _channels;
    private readonly int _sourceChannels;
    private readonly int[] _sourceIndex;
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly float[] _ring;   // normalized samples, stored in the spec's layout (see Push)
    private readonly bool _channelsFirst;
    private readonly long[] _times;
    private readonly SensorStats _stats;
    private readonly SampleTimingMonitor? _timing;
    private int _next;                // ring row to write next = oldest row once full
    private int _untilWindow;
    private long _sequence;
    private DateTimeOffset _lastWall;

    /// <param name="spec">Window spec from the model manifest.</param>
    /// <param name="sourceChannels">Channel names of the source, in the order of <see cref="SensorSample.Values"/>.</param>
    /// <param name="stats">Where bad samples, gaps and windows are counted (usually the source's).</param>
    /// <param name="timing">Optional rate/gap monitor; without it gaps are not detected.</param>
    /// <exception cref="WindowSpecException">The spec is invalid or names a channel the source lacks.</exception>
    public Windower(WindowSpec spec, IReadOnlyList<string> sourceChannels, SensorStats stats, SampleTimingMonitor? timing = null)
    {
        var problems = spec.Validate();
        if (problems.Count > 0) throw new WindowSpecException(string.Join("; ", problems));
        _length = spec.Length;
        _hop = spec.Hop;
        _channels = spec.Channels.Count;
        _sourceChannels = sourceChannels.Count;
        _sourceIndex = new int[_channels];
        for (int c = 0; c < _channels; c++)
        {
            int idx = IndexOf(sourceChannels, spec.Channels[c]);
            if (idx < 0)
                throw new WindowSpecException(
                    $"model input channel '{spec.Channels[c]}' is not provided by the sensor source (it provides {string.Join(", ", sourceChannels)})");
            _sourceIndex[c] = idx;
        }
        _mean = spec.Mean?.ToArray() ?? new float[_channels];
        _std = spec.Std?.ToArray() ?? Enumerable.Repeat(1f, _channels).ToArray();
        _ring = new float[_length * _channels];
        _channelsFirst = spec.Layout == WindowLayout.ChannelsFirst;
        _times = new long[_length];
        _stats = stats;
        _timing = timing;
        Spec = spec;
        Reset();
    }

    public WindowSpec Spec { get; }

    /// <summary>Accepted samples currently held towards the next window (≤ Length).</summary>
    public int Buffered { get; private set; }

    /// <summary>Discards buffered samples; the next window completes after Length new samples.</summary>
    public void Reset()
    {
        _next = 0;
        Buffered = 0;
        _untilWindow = _length;
    }

    /// <summary>Adds one sample. The sample's value memory is read during the call only.</summary>
    public WindowerResult Push(in SensorSample sample)
    {
        var values = sample.Values.Span;
        if (values.Length != _sourceChannels)
        {
            _stats.CountBad(BadSampleReason.WrongArity);
            return WindowerResult.Rejected;
        }
        for (int c = 0; c < _channels; c++)
        {
            if (!float.IsFinite(values[_sourceIndex[c]]))
            {
                _stats.CountBad(BadSampleReason.NonFinite);
                return WindowerResult.Rejected;
            }
        }
        if (_timing is not null)
        {
            switch (_timing.Observe(sample.TimeNs))
            {
                case SampleTiming.WentBackwards:
                    return WindowerResult.Rejected;
                case SampleTiming.Gap:
                    Reset();
                    break;
            }
        }

        // The ring is kept in the output layout so that WriteWindow is at most two block copies per
        // channel (channels-first) or two in total (samples-first): with overlapping windows each
        // sample is written once here instead of transposed once per window it belongs to.
        if (_channelsFirst)
        {
            for (int c = 0; c < _channels; c++)
                _ring[c * _length + _next] = (values[_sourceIndex[c]] - _mean[c]) / _std[c];
        }
        else
        {
            var row = _ring.AsSpan(_next * _channels, _channels);
            for (int c = 0; c < _channels; c++)
                row[c] = (values[_sourceIndex[c]] - _mean[c]) / _std[c];
        }
        _times[_next] = sample.TimeNs;
        _lastWall = sample.WallTime;
        _next = _next + 1 == _length ? 0 : _next + 1;
        if (Buffered < _length) Buffered++;

        if (--_untilWindow > 0) return WindowerResult.Buffered;
        _untilWindow = _hop;
        return WindowerResult.WindowReady;
    }

    /// <summary>
    /// Writes the most recent complete window (oldest sample first) into <paramref name="destination"/>
    /// in the spec's layout. Call after <see cref="Push"/> returned <see cref="WindowerResult.WindowReady"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="WindowSpec.ElementCount"/>.</exception>
    /// <exception cref="InvalidOperationException">Fewer than Length samples are buffered.</exception>
    public WindowInfo WriteWindow(Span<float> destination)
    {
        int count = _length * _channels;
        if (destination.Length < count)
            throw new ArgumentException($"window buffer holds {destination.Length} floats; this window needs {count} ({_length} samples × {_channels} channels)", nameof(destination));
        if (Buffered < _length)
            throw new InvalidOperationException($"only {Buffered} of {_length} samples are buffered; no window is complete");

        int oldest = _next; // ring is full, so the next position to overwrite is the oldest
        if (_channelsFirst)
        {
            int head = _length - oldest;
            for (int c = 0; c < _channels; c++)
            {
                var channel = _ring.AsSpan(c * _length, _length);
                var dst = destination.Slice(c * _length, _length);
                channel[oldest..].CopyTo(dst);
                channel[..oldest].CopyTo(dst[head..]);
            }
        }
        else
        {
            int head = (_length - oldest) * _channels;
            _ring.AsSpan(oldest * _channels, head).CopyTo(destination);
            _ring.AsSpan(0, oldest * _channels).CopyTo(destination[head..]);
        }
        _stats.CountWindow();
        long first = _times[oldest];
        long last = _times[oldest == 0 ? _length - 1 : oldest - 1];
        return new WindowInfo(++_sequence, first, last, _lastWall);
    }

    private static int IndexOf(IReadOnlyList<string> list, string name)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == name) return i;
        return -1;
    }
}
