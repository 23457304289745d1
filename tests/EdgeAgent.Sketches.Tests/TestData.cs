using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Tests;

/// <summary>The input streams the accuracy specification names, generated deterministically from a seed.</summary>
public enum StreamShape
{
    Uniform,
    Normal,
    LogNormal,
    Bimodal,
    Sorted,
    ReverseSorted,
    Constant,
    GrowingBlocksOfRepeats,
}

internal static class TestData
{
    /// <summary>True when the long (soak) variants should run: <c>EDGEAGENT_LONG_TESTS=1</c>.</summary>
    public static bool LongMode => Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1";

    public static float[] Generate(StreamShape shape, int n, int seed)
    {
        var rng = new Random(seed);
        var data = new float[n];
        switch (shape)
        {
            case StreamShape.Uniform:
                for (int i = 0; i < n; i++)
                {
                    data[i] = (float)rng.NextDouble();
                }

                break;
            case StreamShape.Normal:
                for (int i = 0; i < n; i++)
                {
                    data[i] = (float)Gaussian(rng);
                }

                break;
            case StreamShape.LogNormal:
                for (int i = 0; i < n; i++)
                {
                    data[i] = (float)Math.Exp(Gaussian(rng));
                }

                break;
            case StreamShape.Bimodal:
                for (int i = 0; i < n; i++)
                {
                    data[i] = (float)(rng.Next(2) == 0 ? Gaussian(rng) - 4 : (0.5 * Gaussian(rng)) + 5);
                }

                break;
            case StreamShape.Sorted:
                for (int i = 0; i < n; i++)
                {
                    data[i] = i;
                }

                break;
            case StreamShape.ReverseSorted:
                for (int i = 0; i < n; i++)
                {
                    data[i] = n - i;
                }

                break;
            case StreamShape.Constant:
                Array.Fill(data, 42.5f);
                break;
            case StreamShape.GrowingBlocksOfRepeats:
                // Block b repeats the value b exactly b times: 1, 2, 2, 3, 3, 3, ... (heavy ties, growing).
                int value = 1;
                int left = 1;
                for (int i = 0; i < n; i++)
                {
                    data[i] = value;
                    if (--left == 0)
                    {
                        value++;
                        left = value;
                    }
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(shape));
        }

        return data;
    }

    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Number of elements of ascending <paramref name="sorted"/> that are ≤ value.</summary>
    public static int CountAtMost(float[] sorted, float value)
    {
        int lo = 0;
        int hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>
    /// Max |estimated − exact| inclusive rank over a 1000-point grid of query values taken at the exact
    /// quantiles (i + 0.5)/1000 of the data, plus the exact min and max.
    /// </summary>
    public static double MaxRankError(KllFloatsSketch sketch, float[] sorted)
    {
        var view = sketch.GetSortedView();
        double worst = 0;
        int n = sorted.Length;
        for (int i = -1; i <= 1000; i++)
        {
            float q = i < 0 ? sorted[0] : i == 1000 ? sorted[^1] : sorted[(int)((i + 0.5) / 1000 * n)];
            double exact = (double)CountAtMost(sorted, q) / n;
            double estimated = view.GetRank(q);
            worst = Math.Max(worst, Math.Abs(estimated - exact));
        }

        return worst;
    }

    /// <summary>Nearest-rank percentile of the values (p in (0, 100]).</summary>
    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Max(rank, 1) - 1];
    }
}
