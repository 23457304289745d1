namespace EdgeAgent.Sketches.Drift;

/// <summary>
/// Alert thresholds for drift, with the conventional defaults. PSI bands: &lt; 0.1 stable, 0.1–0.25 moderate,
/// ≥ 0.25 significant. KS: reject "same distribution" at <see cref="KsPValue"/>. Normalized Wasserstein-1: drift
/// when the distance is at least <see cref="NormalizedWasserstein"/> reference standard deviations.
/// </summary>
/// <param name="PsiModerate">Lower edge of the moderate PSI band.</param>
/// <param name="PsiSignificant">Lower edge of the significant PSI band.</param>
/// <param name="KsPValue">Significance level of the KS test.</param>
/// <param name="NormalizedWasserstein">Normalized W1 at or above which drift is flagged.</param>
/// <param name="MinimumCount">Fewer finite values than this in either window: report, but do not flag (noise dominates).</param>
/// <param name="PsiBins">Number of reference-quantile bins for PSI.</param>
/// <param name="PsiSmoothing">Additive smoothing α of PSI masses.</param>
public sealed record DriftThresholds(
    double PsiModerate = 0.1,
    double PsiSignificant = 0.25,
    double KsPValue = 0.05,
    double NormalizedWasserstein = 0.1,
    long MinimumCount = 1000,
    int PsiBins = DriftMetrics.DefaultBins,
    double PsiSmoothing = DriftMetrics.DefaultSmoothing)
{
    /// <summary>The defaults above.</summary>
    public static DriftThresholds Default { get; } = new();
}

/// <summary>Conventional PSI interpretation.</summary>
public enum PsiBand
{
    /// <summary>PSI below the moderate threshold.</summary>
    Stable,

    /// <summary>PSI between the moderate and significant thresholds.</summary>
    Moderate,

    /// <summary>PSI at or above the significant threshold.</summary>
    Significant,
}

/// <summary>Drift of one feature between a reference and a current window.</summary>
/// <param name="Feature">Feature name.</param>
/// <param name="ReferenceCount">Finite values in the reference.</param>
/// <param name="CurrentCount">Finite values in the current window.</param>
/// <param name="CurrentNonFiniteFraction">Share of NaN/±∞ among all current values (reported on its own; never sketched).</param>
/// <param name="SufficientData">Both windows hold at least <see cref="DriftThresholds.MinimumCount"/> finite values; if false nothing is flagged.</param>
/// <param name="Psi">PSI result (null when a window is empty).</param>
/// <param name="PsiBand">Band of <paramref name="Psi"/>.</param>
/// <param name="Ks">KS result (null when a window is empty).</param>
/// <param name="Wasserstein">W1 result (null when a window is empty).</param>
/// <param name="Drifted">Sufficient data and at least one of: PSI significant, KS rejects, normalized W1 over threshold.</param>
public sealed record FeatureDriftReport(
    string Feature,
    long ReferenceCount,
    long CurrentCount,
    double CurrentNonFiniteFraction,
    bool SufficientData,
    PsiResult? Psi,
    PsiBand PsiBand,
    KsResult? Ks,
    WassersteinResult? Wasserstein,
    bool Drifted);

/// <summary>Computes <see cref="FeatureDriftReport"/>s from accumulators.</summary>
public static class DriftAssessment
{
    /// <summary>
    /// Assesses every feature of <paramref name="reference"/> that <paramref name="current"/> has, in profile order.
    /// Features the current window lacks are reported with zero count (never flagged); features the profile
    /// lacks are ignored (there is nothing to compare them with).
    /// </summary>
    public static IReadOnlyList<FeatureDriftReport> Assess(Profiles.ReferenceProfile reference,
        IReadOnlyDictionary<string, FeatureAccumulator> current, DriftThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var reports = new List<FeatureDriftReport>(reference.Features.Count);
        foreach (var feature in reference.Features)
        {
            var cur = current.TryGetValue(feature.Name, out var c) ? c : new FeatureAccumulator(feature.Sketch.K);
            reports.Add(Assess(feature.Name, FeatureAccumulator.Restore(feature.Statistics, feature.Sketch), cur, thresholds));
        }

        return reports;
    }

    /// <summary>Compares <paramref name="current"/> against <paramref name="reference"/> for one feature.</summary>
    public static FeatureDriftReport Assess(string feature, FeatureAccumulator reference, FeatureAccumulator current, DriftThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var t = thresholds ?? DriftThresholds.Default;
        long refCount = reference.Moments.Count;
        long curCount = current.Moments.Count;
        double nonFinite = current.TotalCount == 0 ? 0 : (double)(current.TotalCount - curCount) / current.TotalCount;
        if (refCount == 0 || curCount == 0)
        {
            return new FeatureDriftReport(feature, refCount, curCount, nonFinite, false, null, PsiBand.Stable, null, null, false);
        }

        var refView = reference.Sketch.GetSortedView();
        var curView = current.Sketch.GetSortedView();
        var psi = DriftMetrics.PopulationStabilityIndex(refView, curView, t.PsiBins, t.PsiSmoothing);
        var ks = DriftMetrics.KolmogorovSmirnov(refView, curView, t.KsPValue);
        var w1 = DriftMetrics.Wasserstein(refView, curView, reference.Moments.PopulationStandardDeviation);
        var band = psi.Value >= t.PsiSignificant ? PsiBand.Significant : psi.Value >= t.PsiModerate ? PsiBand.Moderate : PsiBand.Stable;
        bool sufficient = refCount >= t.MinimumCount && curCount >= t.MinimumCount;
        bool drifted = sufficient && (band == PsiBand.Significant || ks.DriftDetected || w1.Normalized >= t.NormalizedWasserstein);
        return new FeatureDriftReport(feature, refCount, curCount, nonFinite, sufficient, psi, band, ks, w1, drifted);
    }
}
