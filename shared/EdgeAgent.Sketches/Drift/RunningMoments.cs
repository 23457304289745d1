namespace EdgeAgent.Sketches.Drift;

/// <summary>
/// Count, mean and M2 (sum of squared deviations from the mean) of a stream, updated with Welford's
/// recurrence and merged with the parallel formula of Chan, Golub and LeVeque (1979), so partial results
/// from devices, windows or shards combine into the same moments as one pass over all values (up to
/// floating-point rounding, in double precision).
/// </summary>
/// <remarks>Immutable value; combine with <see cref="Add"/> and <see cref="Merge"/>.</remarks>
public readonly record struct RunningMoments(long Count, double Mean, double M2)
{
    /// <summary>Population variance M2 / n (0 when empty). This is what normalized Wasserstein-1 divides by.</summary>
    public double PopulationVariance => Count > 0 ? M2 / Count : 0;

    /// <summary>Sample variance M2 / (n − 1) (0 when fewer than two values).</summary>
    public double SampleVariance => Count > 1 ? M2 / (Count - 1) : 0;

    /// <summary>Square root of <see cref="PopulationVariance"/>.</summary>
    public double PopulationStandardDeviation => Math.Sqrt(PopulationVariance);

    /// <summary>Moments with one more value (Welford: mean += δ/n, M2 += δ·(x − new mean)).</summary>
    public RunningMoments Add(double value)
    {
        long n = Count + 1;
        double delta = value - Mean;
        double mean = Mean + (delta / n);
        return new RunningMoments(n, mean, M2 + (delta * (value - mean)));
    }

    /// <summary>
    /// Moments of the union of both streams (Chan et al.): n = na + nb, δ = mean_b − mean_a,
    /// mean = mean_a + δ·nb/n, M2 = M2a + M2b + δ²·na·nb/n.
    /// </summary>
    public RunningMoments Merge(RunningMoments other)
    {
        if (other.Count == 0)
        {
            return this;
        }

        if (Count == 0)
        {
            return other;
        }

        long n = Count + other.Count;
        double delta = other.Mean - Mean;
        double mean = Mean + (delta * ((double)other.Count / n));
        double m2 = M2 + other.M2 + (delta * delta * ((double)Count * other.Count / n));
        return new RunningMoments(n, mean, m2);
    }
}
