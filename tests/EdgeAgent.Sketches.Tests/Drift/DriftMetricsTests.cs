using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using Xunit;
using Xunit.Abstractions;

namespace EdgeAgent.Sketches.Tests.Drift;

public sealed class DriftMetricsTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Pairs() => new()
    {
        { "same-normal", 1 }, { "shifted-normal", 2 }, { "scaled-lognormal", 3 }, { "bimodal-vs-normal", 4 }, { "sorted-uniform", 5 },
    };

    private static (float[] Reference, float[] Current) MakePair(string name, int seed)
    {
        var rng = new Random(seed);
        int n = 100_000;
        int m = 60_000;
        float[] r = new float[n];
        float[] c = new float[m];
        for (int i = 0; i < n; i++)
        {
            r[i] = name switch
            {
                "scaled-lognormal" => (float)Math.Exp(TestData.Gaussian(rng)),
                "bimodal-vs-normal" => (float)TestData.Gaussian(rng),
                "sorted-uniform" => i / (float)n,
                _ => (float)TestData.Gaussian(rng),
            };
        }

        for (int i = 0; i < m; i++)
        {
            c[i] = name switch
            {
                "same-normal" => (float)TestData.Gaussian(rng),
                "shifted-normal" => (float)(TestData.Gaussian(rng) + 0.3),
                "scaled-lognormal" => (float)(1.5 * Math.Exp(TestData.Gaussian(rng))),
                "bimodal-vs-normal" => (float)(rng.Next(2) == 0 ? TestData.Gaussian(rng) - 1 : TestData.Gaussian(rng) + 1),
                "sorted-uniform" => (float)Math.Sqrt(i / (double)m),
                _ => throw new ArgumentOutOfRangeException(nameof(name)),
            };
        }

        return (r, c);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Metrics_from_sketches_land_within_the_derived_bound_of_the_exact_values(string pair, int seed)
    {
        var (r, c) = MakePair(pair, seed);
        var refAcc = new FeatureAccumulator(random: new Random(seed));
        var curAcc = new FeatureAccumulator(random: new Random(seed + 100));
        refAcc.Add(r);
        curAcc.Add(c);
        var refSketch = refAcc.Sketch.GetSortedView();
        var curSketch = curAcc.Sketch.GetSortedView();
        var refExact = KllSortedView.FromSamples(r);
        var curExact = KllSortedView.FromSamples(c);

        // The bounds assume each sketch's rank error is within its published ε; check that premise exactly.
        Assert.True(MaxRankErrorOverAllValues(refSketch, refExact) <= refSketch.RankErrorBound);
        Assert.True(MaxRankErrorOverAllValues(curSketch, curExact) <= curSketch.RankErrorBound);

        double sigma = refAcc.Moments.PopulationStandardDeviation;
        var psi = DriftMetrics.PopulationStabilityIndex(refSketch, curSketch);
        var psiExact = DriftMetrics.PopulationStabilityIndex(psi.Edges, refExact, curExact);
        var ks = DriftMetrics.KolmogorovSmirnov(refSketch, curSketch);
        var ksExact = DriftMetrics.KolmogorovSmirnov(refExact, curExact);
        var w = DriftMetrics.Wasserstein(refSketch, curSketch, sigma);
        var wExact = DriftMetrics.Wasserstein(refExact, curExact, sigma);
        output.WriteLine($"{pair}: PSI {psi.Value:F5} exact {psiExact.Value:F5} (|Δ| {Math.Abs(psi.Value - psiExact.Value):E2} ≤ {psi.ErrorBound:E2}); " +
            $"KS {ks.Statistic:F5} exact {ksExact.Statistic:F5} (≤ {ks.ErrorBound:E2}); W1/σ {w.Normalized:F5} exact {wExact.Normalized:F5} (≤ {w.NormalizedErrorBound:E2})");

        Assert.Equal(0, psiExact.ErrorBound);
        Assert.Equal(0, ksExact.ErrorBound);
        Assert.Equal(0, wExact.ErrorBound);
        Assert.InRange(Math.Abs(psi.Value - psiExact.Value), 0, psi.ErrorBound);
        Assert.InRange(Math.Abs(ks.Statistic - ksExact.Statistic), 0, ks.ErrorBound);
        Assert.InRange(Math.Abs(w.Normalized - wExact.Normalized), 0, w.NormalizedErrorBound);

        // Premise of the PSI bound: every estimated bin mass is within the PMF error of the exact one
        // (raw, unsmoothed masses: smoothing is the same affine map on both sides).
        double scale = 1 / (1 + (psi.Edges.Length + 1) * DriftMetrics.DefaultSmoothing);
        for (int j = 0; j < psi.Edges.Length + 1; j++)
        {
            Assert.InRange(Math.Abs(psi.ReferenceMasses[j] - psiExact.ReferenceMasses[j]) / scale, 0, refSketch.MassErrorBound);
            Assert.InRange(Math.Abs(psi.CurrentMasses[j] - psiExact.CurrentMasses[j]) / scale, 0, curSketch.MassErrorBound);
        }

        // The PSI bins are the reference sketch's deciles: each holds about a tenth of the exact reference.
        foreach (double e in psiExact.ReferenceMasses)
        {
            Assert.InRange(e, 0.1 - refSketch.MassErrorBound, 0.1 + refSketch.MassErrorBound);
        }
    }

    private static double MaxRankErrorOverAllValues(KllSortedView sketch, KllSortedView exact)
    {
        double worst = 0;
        var items = exact.Items;
        for (int i = 0; i < items.Length; i++)
        {
            if (i + 1 < items.Length && items[i + 1] == items[i])
            {
                continue;
            }

            worst = Math.Max(worst, Math.Abs(sketch.GetRank(items[i]) - ((double)(i + 1) / items.Length)));
        }

        return worst;
    }

    [Fact]
    public void PSI_of_exact_data_matches_the_textbook_formula()
    {
        // Reference 0..999: deciles at 99, 199, ..., 899. Current: 0..499, every value twice.
        var reference = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
        var current = Enumerable.Range(0, 1000).Select(i => (float)(i / 2)).ToArray();
        var psi = DriftMetrics.PopulationStabilityIndex(KllSortedView.FromSamples(reference), KllSortedView.FromSamples(current), 10, 1e-4);
        Assert.Equal(Enumerable.Range(1, 9).Select(j => (float)((100 * j) - 1)), psi.Edges);

        double alpha = 1e-4;
        double scale = 1 / (1 + (10 * alpha));
        double expected = 0;
        for (int j = 0; j < 10; j++)
        {
            double e = (0.1 + alpha) * scale;
            double a = ((j < 5 ? 0.2 : 0.0) + alpha) * scale;
            expected += (a - e) * Math.Log(a / e);
        }

        Assert.Equal(expected, psi.Value, 12);
        Assert.Equal(0, psi.ErrorBound);
    }

    [Fact]
    public void KS_and_W1_of_exact_data_match_hand_computed_values()
    {
        // Integer grid 0..999 against the same grid shifted by 250 (exact in float): KS = 0.25, W1 = 250.
        var a = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
        var b = a.Select(x => x + 250f).ToArray();
        var ks = DriftMetrics.KolmogorovSmirnov(KllSortedView.FromSamples(a), KllSortedView.FromSamples(b));
        Assert.Equal(0.25, ks.Statistic, 12);
        var w = DriftMetrics.Wasserstein(KllSortedView.FromSamples(a), KllSortedView.FromSamples(b), 500);
        Assert.Equal(250, w.Distance, 9);
        Assert.Equal(0.5, w.Normalized, 12);
    }

    [Fact]
    public void KS_threshold_follows_the_DataSketches_formula()
    {
        var r = new KllFloatsSketch(200, new Random(1));
        var c = new KllFloatsSketch(200, new Random(2));
        r.Update(TestData.Generate(StreamShape.Normal, 50_000, 1));
        c.Update(TestData.Generate(StreamShape.Normal, 50_000, 2));
        var ks = DriftMetrics.KolmogorovSmirnov(r.GetSortedView(), c.GetSortedView(), 0.05);
        double r1 = r.NumRetained;
        double r2 = c.NumRetained;
        double expected = (Math.Sqrt(-0.5 * Math.Log(0.025)) * Math.Sqrt((r1 + r2) / (r1 * r2))) + (2 * KllFloatsSketch.NormalizedRankError(200, false));
        Assert.Equal(expected, ks.Threshold, 12);
        Assert.False(ks.DriftDetected);
    }

    [Fact]
    public void Assessment_flags_a_half_sigma_shift_and_not_a_fresh_sample_of_the_same_distribution()
    {
        var reference = new FeatureAccumulator(random: new Random(1));
        reference.Add(TestData.Generate(StreamShape.Normal, 200_000, 1));
        var same = new FeatureAccumulator(random: new Random(2));
        same.Add(TestData.Generate(StreamShape.Normal, 20_000, 2));
        var shifted = new FeatureAccumulator(random: new Random(3));
        shifted.Add(TestData.Generate(StreamShape.Normal, 20_000, 3).Select(v => v + 0.5f).ToArray());

        var calm = DriftAssessment.Assess("x", reference, same);
        Assert.True(calm.SufficientData);
        Assert.Equal(PsiBand.Stable, calm.PsiBand);
        Assert.False(calm.Ks!.DriftDetected);
        Assert.True(calm.Wasserstein!.Normalized < 0.1);
        Assert.False(calm.Drifted);

        var drift = DriftAssessment.Assess("x", reference, shifted);
        Assert.True(drift.Ks!.DriftDetected);
        Assert.True(drift.Wasserstein!.Normalized > 0.4);
        Assert.NotEqual(PsiBand.Stable, drift.PsiBand);
        Assert.True(drift.Drifted);
    }

    [Fact]
    public void Assessment_with_too_few_values_reports_but_does_not_flag()
    {
        var reference = new FeatureAccumulator(random: new Random(1));
        reference.Add(TestData.Generate(StreamShape.Normal, 10_000, 1));
        var tiny = new FeatureAccumulator();
        tiny.Add([5f, 6f, 7f, float.NaN]);
        var report = DriftAssessment.Assess("x", reference, tiny);
        Assert.False(report.SufficientData);
        Assert.False(report.Drifted);
        Assert.NotNull(report.Psi);
        Assert.Equal(0.25, report.CurrentNonFiniteFraction);

        var empty = DriftAssessment.Assess("x", reference, new FeatureAccumulator());
        Assert.Null(empty.Psi);
        Assert.False(empty.Drifted);
    }

    [Fact]
    public void A_constant_reference_collapses_PSI_bins_and_still_yields_finite_values()
    {
        var reference = KllSortedView.FromSamples(Enumerable.Repeat(1f, 1000).ToArray());
        var current = KllSortedView.FromSamples(Enumerable.Range(0, 1000).Select(i => i / 500f).ToArray());
        var psi = DriftMetrics.PopulationStabilityIndex(reference, current);
        Assert.Single(psi.Edges);
        Assert.True(double.IsFinite(psi.Value) && psi.Value > 0);
        var w = DriftMetrics.Wasserstein(reference, current, 0);
        Assert.Equal(double.PositiveInfinity, w.Normalized);
    }

    [Fact]
    public void Empty_inputs_and_bad_parameters_are_refused_with_clear_messages()
    {
        var some = KllSortedView.FromSamples([1f, 2f]);
        var none = KllSortedView.FromSamples([]);
        Assert.Contains("non-empty", Assert.Throws<ArgumentException>(() => DriftMetrics.KolmogorovSmirnov(some, none)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => DriftMetrics.PopulationStabilityIndex(none, some));
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftMetrics.KolmogorovSmirnov(some, some, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftMetrics.PopulationStabilityIndex(some, some, bins: 1));
        Assert.Throws<ArgumentException>(() => DriftMetrics.PopulationStabilityIndex([2f, 1f], some, some));
        Assert.Throws<ArgumentException>(() => KllSortedView.FromSamples([float.NaN]));
    }
}
