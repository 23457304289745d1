namespace EdgeAgent.Sensors.Pipeline;

/// <summary>
/// Fixed-size float buffers for samples in flight between pipeline stages. Rent/return reuse the same
/// arrays, so a pipeline in steady state allocates nothing per sample.
/// </summary>
/// <remarks>Thread-safe (a short lock; producer, consumer and the channel's drop callback all touch it).
/// When empty it allocates a new buffer rather than block; <see cref="Allocated"/> counts them.</remarks>
internal sealed class SampleBufferPool
{
    private readonly int _width;
    private readonly float[][] _free;
    private readonly Lock _lock = new();
    private int _count;

    public SampleBufferPool(int width, int capacity)
    {
        _width = width;
        _free = new float[capacity][];
        for (int i = 0; i < capacity; i++) _free[i] = new float[width];
        _count = capacity;
        Allocated = capacity;
    }

    public int Allocated { get; private set; }

    public float[] Rent()
    {
        lock (_lock)
        {
            if (_count > 0) return _free[--_count];
            Allocated++;
        }
        return new float[_width];
    }

    public void Return(float[] buffer)
    {
        lock (_lock)
        {
            if (_count < _free.Length) _free[_count++] = buffer;
        }
    }
}

/// <summary>A sample owned by the pipeline queue (its buffer comes from a <see cref="SampleBufferPool"/>).</summary>
internal readonly record struct QueuedSample(long TimeNs, DateTimeOffset WallTime, float[] Values);
