namespace EdgeAgent.OnnxFormat.Generators;

/// <summary>
/// Sets the weights of a generated model's final linear layer (features → class logits) from float features of
/// the calibration/training inputs. Deterministic (full-batch arithmetic in double, fixed iteration count).
/// </summary>
internal static class LastLayerFit
{
    /// <summary>
    /// For untrained models: shifts each class's logit to mean 0 over <paramref name="features"/> and scales all
    /// logits to a within-class standard deviation of <paramref name="targetStd"/>, so that every class wins for
    /// some inputs and the probabilities are informative rather than one-hot.
    /// </summary>
    public static void Balance(IReadOnlyList<float[]> features, float[] weights, float[] bias, int classes, double targetStd)
    {
        int f = weights.Length / classes;
        var logits = features.Select(x => Logits(x, weights, bias, f, classes)).ToArray();
        var mean = new double[classes];
        foreach (var l in logits) for (int c = 0; c < classes; c++) mean[c] += l[c] / logits.Length;
        double var = 0;
        foreach (var l in logits) for (int c = 0; c < classes; c++) var += (l[c] - mean[c]) * (l[c] - mean[c]);
        double std = Math.Sqrt(Math.Max(var / (logits.Length * classes), 1e-12));
        double gain = targetStd / std;
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(weights[i] * gain);
        for (int c = 0; c < classes; c++) bias[c] = (float)((bias[c] - mean[c]) * gain);
    }

    /// <summary>
    /// Multinomial logistic regression (softmax, L2) on centred, uniformly scaled features by full-batch gradient descent,
    /// with the standardization folded back into <paramref name="weights"/> [features, classes] and <paramref name="bias"/>.
    /// </summary>
    public static void TrainSoftmax(IReadOnlyList<float[]> features, IReadOnlyList<int> labels, float[] weights, float[] bias, int classes,
        int iterations = 500, double learningRate = 0.5, double l2 = 1e-2)
    {
        int n = features.Count, f = features[0].Length;
        var mu = new double[f];
        foreach (var x in features) for (int i = 0; i < f; i++) mu[i] += x[i] / (double)n;
        // One scale for all features (their RMS spread), not one per feature: a nearly constant feature (a
        // channel ReLU mostly zeroes) would otherwise get a huge weight, and int8 per-tensor weights plus the
        // quantized features would turn that weight into noise.
        double spread = 0;
        foreach (var x in features) for (int i = 0; i < f; i++) spread += (x[i] - mu[i]) * (x[i] - mu[i]) / ((double)n * f);
        spread = Math.Max(Math.Sqrt(spread), 1e-6);
        var sigma = Enumerable.Repeat(spread, f).ToArray();

        var z = features.Select(x => Enumerable.Range(0, f).Select(i => (x[i] - mu[i]) / sigma[i]).ToArray()).ToArray();
        var w = new double[f * classes];
        var b = new double[classes];
        var p = new double[classes];
        for (int it = 0; it < iterations; it++)
        {
            var gw = new double[f * classes];
            var gb = new double[classes];
            for (int s = 0; s < n; s++)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    double v = b[c];
                    for (int i = 0; i < f; i++) v += z[s][i] * w[i * classes + c];
                    p[c] = v;
                    max = Math.Max(max, v);
                }
                double sum = 0;
                for (int c = 0; c < classes; c++) sum += p[c] = Math.Exp(p[c] - max);
                for (int c = 0; c < classes; c++)
                {
                    double g = p[c] / sum - (labels[s] == c ? 1 : 0);
                    gb[c] += g / n;
                    for (int i = 0; i < f; i++) gw[i * classes + c] += g * z[s][i] / n;
                }
            }
            for (int k = 0; k < w.Length; k++) w[k] -= learningRate * (gw[k] + l2 * w[k]);
            for (int c = 0; c < classes; c++) b[c] -= learningRate * gb[c];
        }

        // logits = b + Σ_i ((x_i − μ_i)/σ_i)·w_ic  =  (b − Σ_i μ_i w_ic/σ_i) + Σ_i x_i·(w_ic/σ_i)
        for (int c = 0; c < classes; c++)
        {
            double shift = 0;
            for (int i = 0; i < f; i++)
            {
                weights[i * classes + c] = (float)(w[i * classes + c] / sigma[i]);
                shift += mu[i] * w[i * classes + c] / sigma[i];
            }
            bias[c] = (float)(b[c] - shift);
        }
    }

    private static double[] Logits(float[] x, float[] weights, float[] bias, int f, int classes)
    {
        var l = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            double v = bias[c];
            for (int i = 0; i < f; i++) v += (double)x[i] * weights[i * classes + c];
            l[c] = v;
        }
        return l;
    }
}
