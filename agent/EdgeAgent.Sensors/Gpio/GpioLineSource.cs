using System.Runtime.CompilerServices;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Gpio;

/// <summary>
/// GPIO lines as a sensor source: one channel per line, values 0/1 (logical level).
/// </summary>
/// <remarks>
/// <para><b>Edges:</b> each kernel edge event yields a sample stamped with the event's kernel time
/// (CLOCK_MONOTONIC), carrying the levels of all lines with the event applied. Levels are read once at
/// start; when sequence numbers show lost events (kernel FIFO overflow, counted in
/// <see cref="SensorStats.LostEvents"/>) the levels are re-read after the batch so later samples are
/// right again. An event for an offset not in the request is counted as
/// <see cref="BadSampleReason.UnknownChannel"/>. <see cref="NominalRateHz"/> is null (event driven).</para>
/// <para><b>Levels:</b> all lines are read at <see cref="GpioSettings.PollRateHz"/> on an absolute schedule.</para>
/// <para>Prefers <see cref="SampleBackPressure.DropOldest"/>: the lines cannot be paused.</para>
/// </remarks>
public sealed class GpioLineSource : ISensorSource
{
    private const int EventsPerRead = 64;
    private readonly GpioSettings _settings;
    private readonly Func<GpioSettings, IGpioLines> _open;
    private readonly TimeProvider _time;
    private readonly string[] _channels;
    private int _started;

    /// <summary>Source over the kernel character device (<see cref="GpioCharDevice.RequestLines"/>).</summary>
    public GpioLineSource(GpioSettings settings, TimeProvider? time = null)
        : this(settings, GpioCharDevice.RequestLines, time)
    {
    }

    /// <summary>Source over any <see cref="IGpioLines"/> provider (the seam tests use with recorded data).</summary>
    public GpioLineSource(GpioSettings settings, Func<GpioSettings, IGpioLines> openLines, TimeProvider? time = null)
    {
        var problems = settings.Validate();
        if (problems.Count > 0) throw new SensorSourceException(string.Join("; ", problems));
        _settings = settings;
        _open = openLines;
        _time = time ?? TimeProvider.System;
        _channels = settings.Lines.Select(l => l.ChannelName).ToArray();
        Name = $"gpio:{settings.ChipPath}";
    }

    public string Name { get; }
    public IReadOnlyList<string> Channels => _channels;
    public double? NominalRateHz => _settings.Mode == GpioMode.Levels ? _settings.PollRateHz : null;
    public SampleBackPressure PreferredBackPressure => SampleBackPressure.DropOldest;
    public SensorStats Stats { get; } = new();

    public IAsyncEnumerable<SensorSample> ReadAllAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException($"{Name}: ReadAllAsync may be enumerated only once");
        return _settings.Mode == GpioMode.Edges ? ReadEdgesAsync(cancellationToken) : ReadLevelsAsync(cancellationToken);
    }

    private async IAsyncEnumerable<SensorSample> ReadEdgesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var lines = _open(_settings);
        var decoder = new GpioEventDecoder();
        var buffer = new byte[GpioEventDecoder.RecordSize * EventsPerRead];
        var events = new GpioEdgeEvent[EventsPerRead];
        var values = new float[_channels.Length];
        ulong levels = lines.ReadValues();
        int pending = 0;
        while (true)
        {
            int read = await lines.ReadEventsAsync(buffer.AsMemory(pending), cancellationToken).ConfigureAwait(false);
            if (read == 0) yield break;
            long lostBefore = decoder.LostEvents;
            int count = DecodeBatch(decoder, buffer, pending + read, events, out pending);
            long lost = decoder.LostEvents - lostBefore;
            for (int e = 0; e < count; e++)
            {
                int index = IndexOfOffset(events[e].Offset);
                if (index < 0)
                {
                    Stats.CountBad(BadSampleReason.UnknownChannel);
                    continue;
                }
                levels = events[e].Edge == GpioEdge.Rising ? levels | (1UL << index) : levels & ~(1UL << index);
                FillValues(levels, values);
                Stats.CountAccepted();
                yield return new SensorSample((long)events[e].TimestampNs, _time.GetUtcNow(), values);
            }
            if (lost > 0)
            {
                Stats.CountLostEvents(lost);
                levels = lines.ReadValues(); // edges were missed: resynchronize with the real levels
            }
        }
    }

    private static int DecodeBatch(GpioEventDecoder decoder, byte[] buffer, int length, GpioEdgeEvent[] events, out int pending)
    {
        int count = decoder.Decode(buffer.AsSpan(0, length), events, out int consumed);
        pending = length - consumed;
        // Keep a partial record (never produced by the kernel, but a pipe or recording may split one).
        if (pending > 0) buffer.AsSpan(consumed, pending).CopyTo(buffer);
        return count;
    }

    private async IAsyncEnumerable<SensorSample> ReadLevelsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var lines = _open(_settings);
        var values = new float[_channels.Length];
        long start = _time.GetTimestamp();
        for (long i = 0; ; i++)
        {
            var wait = TimeSpan.FromSeconds(i / _settings.PollRateHz) - _time.GetElapsedTime(start);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            FillValues(lines.ReadValues(), values);
            Stats.CountAccepted();
            yield return new SensorSample(SampleClock.NowNs(_time), _time.GetUtcNow(), values);
        }
    }

    private void FillValues(ulong levels, float[] values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (levels >> i & 1) != 0 ? 1f : 0f;
    }

    private int IndexOfOffset(uint offset)
    {
        for (int i = 0; i < _settings.Lines.Count; i++) if (_settings.Lines[i].Offset == offset) return i;
        return -1;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
