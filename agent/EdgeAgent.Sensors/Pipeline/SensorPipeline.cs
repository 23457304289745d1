using System.Threading.Channels;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Windowing;

namespace EdgeAgent.Sensors.Pipeline;

/// <summary>Tuning of a <see cref="SensorPipeline"/>.</summary>
public sealed record SensorPipelineOptions
{
    /// <summary>Samples the source → windower queue holds.</summary>
    public int QueueCapacity { get; init; } = 1024;
    /// <summary>Override of the source's <see cref="ISensorSource.PreferredBackPressure"/>.</summary>
    public SampleBackPressure? BackPressure { get; init; }
    /// <summary>An interval larger than this many nominal sample periods is a gap and resets the window.</summary>
    public double GapPeriods { get; init; } = 3;
    /// <summary>Relative deviation of the observed from the nominal rate that counts a rate warning.</summary>
    public double RateTolerance { get; init; } = 0.1;
}

/// <summary>
/// Source → bounded queue → windower → callback. The source runs in its own task and writes into a
/// bounded <see cref="Channel{T}"/> whose full-queue policy is the source's preference (or the
/// override): <see cref="SampleBackPressure.Wait"/> holds the source back,
/// <see cref="SampleBackPressure.DropOldest"/> drops the oldest queued sample and counts it.
/// </summary>
/// <remarks>
/// <para><b>Ownership:</b> each window is written into the caller's buffer, then <c>onWindow</c> is awaited;
/// the buffer is not touched again until that call completes, so an inference engine can run directly on
/// its pinned input buffer inside the callback.</para>
/// <para><b>Allocation:</b> samples travel in pooled buffers; in steady state neither the queue nor the
/// windower allocates per sample or window (a waiting writer in <c>Wait</c> mode may allocate one
/// awaiter per wait).</para>
/// <para><b>Ending:</b> <see cref="RunAsync"/> completes when the source ends (file read to the end) after
/// the queue drained, throws the source's exception if it faulted, or
/// <see cref="OperationCanceledException"/> on cancellation. Exceptions thrown by <c>onWindow</c> stop
/// the pipeline and propagate.</para>
/// </remarks>
public sealed class SensorPipeline
{
    private readonly ISensorSource _source;
    private readonly SensorPipelineOptions _options;
    private readonly SampleBufferPool _pool;
    private readonly Channel<QueuedSample> _queue;

    /// <exception cref="WindowSpecException">The spec does not fit the source's channels.</exception>
    public SensorPipeline(ISensorSource source, WindowSpec spec, SensorPipelineOptions? options = null)
    {
        _source = source;
        _options = options ?? new SensorPipelineOptions();
        if (_options.QueueCapacity < 1) throw new ArgumentOutOfRangeException(nameof(options), "queue capacity must be at least 1");
        Timing = new SampleTimingMonitor(source.NominalRateHz, _options.GapPeriods, _options.RateTolerance, source.Stats);
        Windower = new Windower(spec, source.Channels, source.Stats, Timing);
        BackPressure = _options.BackPressure ?? source.PreferredBackPressure;
        // Capacity + producer's buffer + consumer's buffer + one being dropped.
        _pool = new SampleBufferPool(source.Channels.Count, _options.QueueCapacity + 3);
        var channelOptions = new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BackPressure == SampleBackPressure.Wait ? BoundedChannelFullMode.Wait : BoundedChannelFullMode.DropOldest,
            AllowSynchronousContinuations = false,
        };
        _queue = Channel.CreateBounded<QueuedSample>(channelOptions, dropped =>
        {
            _pool.Return(dropped.Values);
            source.Stats.CountDropped();
        });
    }

    public Windower Windower { get; }
    public SampleTimingMonitor Timing { get; }
    public SampleBackPressure BackPressure { get; }
    public SensorStats Stats => _source.Stats;

    /// <summary>Samples currently queued between source and windower.</summary>
    public int QueuedSamples => _queue.Reader.Count;

    /// <summary>Buffers the pool had to allocate beyond its initial set (0 in steady state).</summary>
    public int ExtraBuffersAllocated => _pool.Allocated - (_options.QueueCapacity + 3);

    /// <summary>Runs until the source ends or <paramref name="cancellationToken"/> is cancelled. Call once per
    /// pipeline (a source is enumerated once). <c>onWindow</c> is called one window at a time, never
    /// concurrently, on a thread-pool thread.</summary>
    /// <param name="windowBuffer">Destination of every window; at least <see cref="WindowSpec.ElementCount"/> floats.</param>
    /// <param name="onWindow">Called once per window after it was written into <paramref name="windowBuffer"/>.</param>
    /// <param name="cancellationToken">Stops source and windowing; RunAsync then throws <see cref="OperationCanceledException"/>.</param>
    public async Task RunAsync(Memory<float> windowBuffer, Func<WindowInfo, CancellationToken, ValueTask> onWindow,
        CancellationToken cancellationToken)
    {
        if (windowBuffer.Length < Windower.Spec.ElementCount)
            throw new ArgumentException($"window buffer holds {windowBuffer.Length} floats; the window needs {Windower.Spec.ElementCount}", nameof(windowBuffer));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => ProduceAsync(stop.Token), CancellationToken.None);
        try
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    WindowerResult result;
                    try
                    {
                        result = Windower.Push(new SensorSample(item.TimeNs, item.WallTime, item.Values));
                    }
                    finally
                    {
                        _pool.Return(item.Values);
                    }
                    if (result != WindowerResult.WindowReady) continue;
                    var info = Windower.WriteWindow(windowBuffer.Span);
                    await onWindow(info, stop.Token).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            stop.Cancel();
            // Surfaces a source fault (it replaces the channel's copy of the same exception).
            try { await producer.ConfigureAwait(false); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        }
    }

    private async Task ProduceAsync(CancellationToken cancellationToken)
    {
        Exception? fault = null;
        try
        {
            var writer = _queue.Writer;
            await foreach (var sample in _source.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var span = sample.Values.Span;
                var buffer = _pool.Rent();
                if (span.Length != buffer.Length)
                {
                    _pool.Return(buffer);
                    _source.Stats.CountBad(BadSampleReason.WrongArity);
                    continue;
                }
                span.CopyTo(buffer);
                var item = new QueuedSample(sample.TimeNs, sample.WallTime, buffer);
                if (!writer.TryWrite(item))
                {
                    try
                    {
                        await writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        _pool.Return(buffer);
                        throw;
                    }
                }
            }
        }
        catch (Exception e)
        {
            fault = e;
            throw;
        }
        finally
        {
            _queue.Writer.TryComplete(fault is OperationCanceledException ? null : fault);
        }
    }
}
