using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Drift;

/// <summary>Population stability index over reference-quantile bins, with the masses used and an error bound.</summary>
/// <param name="Value">PSI = Σ (a − e)·ln(a / e) over bins, a = current mass, e = reference mass (both smoothed).</param>
/// <param name="Edges">Ascending distinct bin edges; bin j is (edge[j−1], edge[j]], the first and last bins are open.</param>
/// <param name="ReferenceMasses">Smoothed reference mass per bin.</param>
/// <param name="CurrentMasses">Smoothed current mass per bin.</param>
/// <param name="ErrorBound">
/// Largest |PSI − PSI of the exact masses in the same bins| consistent with the views' rank error bounds
/// (0 when both views are exact). Derivation in <see cref="DriftMetrics"/>.
/// </param>
public sealed record PsiResult(double Value, float[] Edges, double[] ReferenceMasses, double[] CurrentMasses, double ErrorBound);

/// <summary>Two-sample Kolmogorov–Smirnov statistic with the DataSketches rejection threshold.</summary>
/// <param name="Statistic">D = sup over x of |F_ref(x) − F_cur(x)| for the two (estimated) CDFs.</param>
/// <param name="Threshold">sqrt(−ln(p/2)/2)·sqrt((r1 + r2)/(r1·r2)) + ε1 + ε2, r = retained items, ε = rank error bounds.</param>
/// <param name="PValue">The significance level the threshold was computed for.</param>
/// <param name="DriftDetected">D &gt; threshold: the distributions differ at level p even allowing for sketch error.</param>
/// <param name="ErrorBound">ε1 + ε2: the largest possible |D − D of the exact data|.</param>
public sealed record KsResult(double Statistic, double Threshold, double PValue, bool DriftDetected, double ErrorBound);

/// <summary>Wasserstein-1 (earth mover's) distance, raw and normalized by the reference standard deviation.</summary>
/// <param name="Distance">W1 = ∫ |F_ref(x) − F_cur(x)| dx, in the feature's units.</param>
/// <param name="Normalized">W1 / σ_ref (population standard deviation of the reference); 0 when both are 0, +∞ when only σ_ref is 0.</param>
/// <param name="ErrorBound">Largest |W1 − W1 of the exact data| in feature units: (ε1 + ε2)·(max − min over both streams).</param>
/// <param name="NormalizedErrorBound"><paramref name="ErrorBound"/> / σ_ref.</param>
public sealed record WassersteinResult(double Distance, double Normalized, double ErrorBound, double NormalizedErrorBound);

/// <summary>
/// Drift metrics between a reference distribution and a current one, computed from KLL sketches (or from
/// exact views of raw data; the same code runs on both, see <see cref="KllSortedView.FromSamples"/>).
/// </summary>
/// <remarks>
/// <para><b>Error bounds.</b> Each view carries ε = <see cref="KllSortedView.RankErrorBound"/>: every estimated
/// CDF value F̂(x) is within ε of the true F(x) (for a KLL sketch, with 99 % confidence per sketch; 0 for exact
/// views). From that:</para>
/// <list type="bullet">
/// <item><b>KS</b>: both estimated CDFs are step functions, so D̂ = sup|F̂1 − F̂2| is found exactly at the union
/// of their items, and by the triangle inequality |D̂ − D| ≤ sup|F̂1 − F1| + sup|F̂2 − F2| ≤ ε1 + ε2.</item>
/// <item><b>W1</b>: Ŵ = ∫|F̂1 − F̂2| is integrated exactly over the union of items; outside [min, max] of both
/// streams every CDF is exactly 0 or 1 (min and max are exact), so |Ŵ − W| ≤ ∫_min^max (|F̂1 − F1| + |F̂2 − F2|)
/// ≤ (ε1 + ε2)·(max − min).</item>
/// <item><b>PSI</b>: with the bins fixed (edges from the reference sketch's deciles), an outer bin's mass is one
/// CDF value and an inner bin's is the mass between two split points, so the exact masses lie within ε (outer)
/// or the PMF error ε_pmf (inner; DataSketches' double-sided bound 2.446/K^0.9433, 1.65 % at K = 200, tighter
/// than 2ε) of the estimates; smoothing p = (m + α)/(1 + Bα) shrinks that by 1/(1 + Bα). Each term f(a, e) = (a − e)·ln(a/e)
/// is jointly convex, so over the box of possible exact masses f is at most its largest corner value and at
/// least max(0, its tangent plane's smallest corner value); the bound is the sum over bins of the larger
/// deviation. The bins themselves are part of the metric: a different decile estimate gives different (equally
/// valid) bins, which is a change of definition, not an estimation error.</item>
/// </list>
/// <para><b>Thresholds</b> (see <see cref="DriftThresholds"/>): PSI &lt; 0.1 stable, 0.1–0.25 moderate, ≥ 0.25
/// significant (industry convention); KS rejects at p = 0.05 by default; normalized W1 ≥ 0.1 (a tenth of a reference
/// standard deviation, Evidently's default) flags drift. Under no drift PSI ≈ (B − 1)(1/n + 1/m), so windows need
/// thousands of values before PSI means anything.</para>
/// </remarks>
public static class DriftMetrics
{
    /// <summary>Default number of PSI bins (reference deciles).</summary>
    public const int DefaultBins = 10;

    /// <summary>Default additive smoothing α for PSI masses: p = (m + α)/(1 + Bα), so empty bins stay finite.</summary>
    public const double DefaultSmoothing = 1e-4;

    /// <summary>Distinct bin edges at the reference's quantiles j/bins, j = 1..bins−1 (fewer when quantiles tie).</summary>
    /// <exception cref="ArgumentException">The reference is empty or bins &lt; 2.</exception>
    public static float[] ReferenceQuantileEdges(KllSortedView reference, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (bins < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(bins), bins, "PSI needs at least 2 bins");
        }

        if (reference.IsEmpty)
        {
            throw new ArgumentException("the reference distribution is empty; PSI bins come from its quantiles", nameof(reference));
        }

        var edges = new List<float>(bins - 1);
        for (int j = 1; j < bins; j++)
        {
            float q = reference.GetQuantile((double)j / bins);
            if (edges.Count == 0 || q > edges[^1])
            {
                edges.Add(q);
            }
        }

        return [.. edges];
    }

    /// <summary>PSI over the reference's decile bins (or <paramref name="bins"/> quantile bins).</summary>
    /// <exception cref="ArgumentException">Either view is empty.</exception>
    public static PsiResult PopulationStabilityIndex(KllSortedView reference, KllSortedView current, int bins = DefaultBins,
        double smoothing = DefaultSmoothing) =>
        PopulationStabilityIndex(ReferenceQuantileEdges(reference, bins), reference, current, smoothing);

    /// <summary>PSI over given bins. Use this to evaluate exact data on the bins a sketch chose.</summary>
    /// <exception cref="ArgumentException">Either view is empty, the edges are not strictly ascending, or smoothing is negative.</exception>
    public static PsiResult PopulationStabilityIndex(ReadOnlySpan<float> edges, KllSortedView reference, KllSortedView current,
        double smoothing = DefaultSmoothing)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (reference.IsEmpty || current.IsEmpty)
        {
            throw new ArgumentException($"PSI needs two non-empty distributions (reference N={reference.TotalWeight}, current N={current.TotalWeight})");
        }

        if (!(smoothing >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "smoothing must be ≥ 0");
        }

        for (int i = 1; i < edges.Length; i++)
        {
            if (!(edges[i] > edges[i - 1]))
            {
                throw new ArgumentException($"PSI edges must be strictly ascending (edge {i - 1} = {edges[i - 1]}, edge {i} = {edges[i]})", nameof(edges));
            }
        }

        int bins = edges.Length + 1;
        double scale = 1.0 / (1.0 + (bins * smoothing));
        var e = Masses(edges, reference, smoothing, scale);
        var a = Masses(edges, current, smoothing, scale);
        double psi = 0;
        double bound = 0;
        double lo = smoothing * scale;
        double hi = (1 + smoothing) * scale;
        for (int j = 0; j < bins; j++)
        {
            psi += Term(a[j], e[j]);
            double da = MassUncertainty(current, j, bins) * scale;
            double de = MassUncertainty(reference, j, bins) * scale;
            bound += TermDeviationBound(a[j], e[j], da, de, lo, hi);
        }

        return new PsiResult(psi, edges.ToArray(), e, a, bound);
    }

    /// <summary>KS statistic and the DataSketches-style test at significance <paramref name="pValue"/>.</summary>
    /// <exception cref="ArgumentException">Either view is empty or p is not in (0, 1).</exception>
    public static KsResult KolmogorovSmirnov(KllSortedView reference, KllSortedView current, double pValue = 0.05)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (!(pValue > 0 && pValue < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pValue), pValue, "p-value must be in (0, 1)");
        }

        if (reference.IsEmpty || current.IsEmpty)
        {
            throw new ArgumentException($"KS needs two non-empty distributions (reference N={reference.TotalWeight}, current N={current.TotalWeight})");
        }

        double d = 0;
        Walk(reference, current, (_, f1, f2, _) => d = Math.Max(d, Math.Abs(f1 - f2)));

        // DataSketches (kolmogorov_smirnov::threshold): the classical two-sample critical value with the retained
        // item counts standing in for the sample sizes (conservative), widened by both sketches' rank error.
        double r1 = reference.Items.Length;
        double r2 = current.Items.Length;
        double eps = reference.RankErrorBound + current.RankErrorBound;
        double threshold = (Math.Sqrt(-0.5 * Math.Log(0.5 * pValue)) * Math.Sqrt((r1 + r2) / (r1 * r2))) + eps;
        return new KsResult(d, threshold, pValue, d > threshold, eps);
    }

    /// <summary>Wasserstein-1 distance, normalized by <paramref name="referenceStandardDeviation"/>.</summary>
    /// <exception cref="ArgumentException">Either view is empty or the standard deviation is negative or NaN.</exception>
    public static WassersteinResult Wasserstein(KllSortedView reference, KllSortedView current, double referenceStandardDeviation)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (!(referenceStandardDeviation >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(referenceStandardDeviation), referenceStandardDeviation, "standard deviation must be ≥ 0");
        }

        if (reference.IsEmpty || current.IsEmpty)
        {
            throw new ArgumentException($"W1 needs two non-empty distributions (reference N={reference.TotalWeight}, current N={current.TotalWeight})");
        }

        double w = 0;
        Walk(reference, current, (x, f1, f2, next) =>
        {
            if (!double.IsNaN(next))
            {
                w += Math.Abs(f1 - f2) * (next - x);
            }
        });

        double range = (double)Math.Max(reference.Max, current.Max) - Math.Min(reference.Min, current.Min);
        double bound = (reference.RankErrorBound + current.RankErrorBound) * range;
        double normalized = referenceStandardDeviation > 0 ? w / referenceStandardDeviation : w == 0 ? 0 : double.PositiveInfinity;
        double normalizedBound = referenceStandardDeviation > 0 ? bound / referenceStandardDeviation : bound == 0 ? 0 : double.PositiveInfinity;
        return new WassersteinResult(w, normalized, bound, normalizedBound);
    }

    /// <summary>
    /// Visits each distinct item x of the union of both views in ascending order with the inclusive CDFs
    /// F1(x), F2(x) and the next distinct item (NaN after the last). Both CDFs are constant on [x, next).
    /// </summary>
    private static void Walk(KllSortedView v1, KllSortedView v2, Action<double, double, double, double> visit)
    {
        var items1 = v1.Items;
        var items2 = v2.Items;
        var cum1 = v1.CumulativeWeights;
        var cum2 = v2.CumulativeWeights;
        double n1 = v1.TotalWeight;
        double n2 = v2.TotalWeight;
        int i = 0;
        int j = 0;
        while (i < items1.Length || j < items2.Length)
        {
            float x = i == items1.Length ? items2[j] : j == items2.Length ? items1[i] : Math.Min(items1[i], items2[j]);
            while (i < items1.Length && items1[i] <= x)
            {
                i++;
            }

            while (j < items2.Length && items2[j] <= x)
            {
                j++;
            }

            double f1 = i == 0 ? 0 : cum1[i - 1] / n1;
            double f2 = j == 0 ? 0 : cum2[j - 1] / n2;
            double next = i == items1.Length && j == items2.Length ? double.NaN
                : i == items1.Length ? items2[j] : j == items2.Length ? items1[i] : Math.Min(items1[i], items2[j]);
            visit(x, f1, f2, next);
        }
    }

    private static double[] Masses(ReadOnlySpan<float> edges, KllSortedView view, double smoothing, double scale)
    {
        var masses = new double[edges.Length + 1];
        double n = view.TotalWeight;
        double previous = 0;
        for (int j = 0; j < edges.Length; j++)
        {
            double cdf = view.WeightAtMost(edges[j]) / n;
            masses[j] = (cdf - previous + smoothing) * scale;
            previous = cdf;
        }

        masses[^1] = (1 - previous + smoothing) * scale;
        return masses;
    }

    /// <summary>
    /// How far an estimated bin mass can be from the exact one: an outer bin is one CDF value (ε); an inner bin is
    /// the mass between two split points, bounded by the PMF error, and never more than two CDF errors.
    /// </summary>
    private static double MassUncertainty(KllSortedView view, int bin, int bins)
    {
        int endpoints = (bin > 0 ? 1 : 0) + (bin < bins - 1 ? 1 : 0);
        return endpoints switch
        {
            0 => 0,
            1 => view.RankErrorBound,
            _ => Math.Min(2 * view.RankErrorBound, Math.Max(view.MassErrorBound, view.RankErrorBound)),
        };
    }

    private static double Term(double a, double e) => a == e ? 0 : (a - e) * Math.Log(a / e);

    /// <summary>Largest |f(a', e') − f(a, e)| over the box |a' − a| ≤ da, |e' − e| ≤ de (clamped to [lo, hi]); f is convex.</summary>
    private static double TermDeviationBound(double a, double e, double da, double de, double lo, double hi)
    {
        if (da == 0 && de == 0)
        {
            return 0;
        }

        double f = Term(a, e);
        double aLo = Math.Max(lo, a - da);
        double aHi = Math.Min(hi, a + da);
        double eLo = Math.Max(lo, e - de);
        double eHi = Math.Min(hi, e + de);
        if (aLo <= 0 || eLo <= 0)
        {
            // Without smoothing a mass may be 0 and the term unbounded.
            return double.PositiveInfinity;
        }

        double maxCorner = Math.Max(Math.Max(Term(aLo, eLo), Term(aLo, eHi)), Math.Max(Term(aHi, eLo), Term(aHi, eHi)));

        // Gradient of f: ∂f/∂a = ln(a/e) + 1 − e/a, ∂f/∂e = ln(e/a) + 1 − a/e. The tangent plane bounds f from below.
        double ga = Math.Log(a / e) + 1 - (e / a);
        double ge = Math.Log(e / a) + 1 - (a / e);
        double minLinear = Math.Min(ga * (aLo - a), ga * (aHi - a)) + Math.Min(ge * (eLo - e), ge * (eHi - e));
        double lowest = Math.Max(0, f + minLinear);
        return Math.Max(maxCorner - f, f - lowest);
    }
}
