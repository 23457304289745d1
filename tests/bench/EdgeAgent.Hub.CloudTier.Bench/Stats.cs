namespace EdgeAgent.Hub.CloudTier.Bench;

/// <summary>Order statistics over one measurement (nearest rank), and medians over rounds.</summary>
internal static class Stats
{
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }
}
