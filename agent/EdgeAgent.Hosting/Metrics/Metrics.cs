using System.Runtime.CompilerServices;

namespace EdgeAgent.Hosting.Metrics;

/// <summary>
/// Lock-free double accumulation: the value's bits live in a <see cref="long"/> updated with
/// compare-and-swap, so hot-path updates neither lock nor allocate.
/// </summary>
internal static class AtomicDouble
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ref long bits, double delta)
    {
        long seen = Volatile.Read(ref bits);
        while (true)
        {
            long next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + delta);
            long actual = Interlocked.CompareExchange(ref bits, next, seen);
            if (actual == seen) return;
            seen = actual;
        }
    }

    public static double Read(ref long bits) => BitConverter.Int64BitsToDouble(Volatile.Read(ref bits));
    public static void Write(ref long bits, double value) => Volatile.Write(ref bits, BitConverter.DoubleToInt64Bits(value));
}

/// <summary>A monotonically increasing value (Prometheus counter). Thread-safe, lock-free, allocation-free.</summary>
public sealed class Counter
{
    private long _bits;

    public void Inc() => AtomicDouble.Add(ref _bits, 1);

    /// <exception cref="ArgumentOutOfRangeException">A negative or NaN increment: counters only go up.</exception>
    public void Inc(double amount)
    {
        if (!(amount >= 0)) throw new ArgumentOutOfRangeException(nameof(amount), amount, "a counter can only increase");
        AtomicDouble.Add(ref _bits, amount);
    }

    public double Value => AtomicDouble.Read(ref _bits);
}

/// <summary>A value that goes up and down (Prometheus gauge). Thread-safe, lock-free, allocation-free.</summary>
public sealed class Gauge
{
    private long _bits;
    private readonly Func<double>? _observe;

    public Gauge() { }

    /// <summary>A gauge read from <paramref name="observe"/> at each scrape (for example the outbox depth).</summary>
    public Gauge(Func<double> observe) => _observe = observe;

    public void Set(double value) => AtomicDouble.Write(ref _bits, value);
    public void Inc(double amount = 1) => AtomicDouble.Add(ref _bits, amount);
    public void Dec(double amount = 1) => AtomicDouble.Add(ref _bits, -amount);

    public double Value => _observe is not null ? _observe() : AtomicDouble.Read(ref _bits);
}

/// <summary>
/// Distribution of observations over fixed buckets (Prometheus histogram). <see cref="Observe(double)"/> is
/// lock-free and allocation-free: one interlocked increment of the bucket it falls in and a CAS on the sum.
/// Counts are kept per bucket and made cumulative only when exported.
/// </summary>
/// <remarks>NaN observations are ignored: one would turn <c>_sum</c> into NaN forever.</remarks>
public sealed class Histogram
{
    private readonly double[] _upperBounds;
    private readonly long[] _counts; // last slot is +Inf
    private long _sumBits;

    internal Histogram(double[] upperBounds)
    {
        _upperBounds = upperBounds;
        _counts = new long[upperBounds.Length + 1];
    }

    public void Observe(double value)
    {
        if (double.IsNaN(value)) return;
        var bounds = _upperBounds;
        int i = 0;
        // Linear scan: bucket arrays are short (≤ ~20) and this is branch-predictable; le is inclusive.
        while (i < bounds.Length && value > bounds[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        AtomicDouble.Add(ref _sumBits, value);
    }

    /// <summary>Observes an elapsed <see cref="TimeSpan"/> in seconds (Prometheus base unit).</summary>
    public void Observe(TimeSpan elapsed) => Observe(elapsed.TotalSeconds);

    public IReadOnlyList<double> UpperBounds => _upperBounds;
    public double Sum => AtomicDouble.Read(ref _sumBits);

    /// <summary>Snapshot of cumulative bucket counts (last is +Inf, which equals the total count).</summary>
    public long[] CumulativeCounts()
    {
        var result = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++) result[i] = running += Volatile.Read(ref _counts[i]);
        return result;
    }

    public long Count => CumulativeCounts()[^1];

    /// <summary><paramref name="count"/> buckets starting at <paramref name="start"/>, each <paramref name="factor"/> times the previous.</summary>
    public static double[] ExponentialBuckets(double start, double factor, int count)
    {
        if (start <= 0 || factor <= 1 || count < 1) throw new ArgumentException("exponential buckets need start > 0, factor > 1, count ≥ 1");
        var b = new double[count];
        for (int i = 0; i < count; i++) b[i] = start * Math.Pow(factor, i);
        return b;
    }

    /// <summary>Latency buckets from 0.5 ms to ~4 s, suited to edge inference.</summary>
    public static double[] LatencySecondsBuckets => [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 4];
}
