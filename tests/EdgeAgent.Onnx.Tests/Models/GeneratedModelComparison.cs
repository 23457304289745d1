using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Onnx.Tests.Models;

/// <summary>Runs a generated model in ONNX Runtime and its C# reference on the same seeded inputs.</summary>
internal static class GeneratedModelComparison
{
    public sealed record Result(int Inputs, float MaxAbsDifference, double MeanAbsDifference, int ArgMaxAgreements, string Worst)
    {
        public double ArgMaxAgreement => (double)ArgMaxAgreements / Inputs;

        public override string ToString() =>
            $"{Inputs} inputs: max |Δp| {MaxAbsDifference:E3}, mean |Δp| {MeanAbsDifference:E3}, argmax agreement {ArgMaxAgreement:P2} ({Worst})";
    }

    public static Result Compare(GeneratedModel model, OnnxSession session, int inputs, ulong firstSeed = 1)
    {
        float max = 0;
        double sum = 0;
        int agree = 0;
        string worst = "";
        int classes = model.Reference.OutputLength;
        for (int n = 0; n < inputs; n++)
        {
            ulong seed = firstSeed + (ulong)n;
            float[] x = model.Reference.SampleInput(seed);
            float[] expected = model.Reference.Run(x);
            var output = session.Run([OnnxTensor.Create(model.InputName, model.InputShape, x)]);
            float[] actual = Assert.Single(output).GetData<float>();
            Assert.Equal(classes, actual.Length);
            for (int c = 0; c < classes; c++)
            {
                float d = Math.Abs(actual[c] - expected[c]);
                sum += d;
                if (d > max)
                {
                    max = d;
                    worst = $"seed {seed}, class {c}: ORT {actual[c]:F6} vs reference {expected[c]:F6}";
                }
            }
            if (QuantMath.ArgMax(actual) == QuantMath.ArgMax(expected)) agree++;
        }
        return new Result(inputs, max, sum / (inputs * classes), agree, worst);
    }
}

internal static class QuantizedActivationComparison
{
    public sealed record Result(string Name, long Values, long Mismatches, int MaxSteps)
    {
        public override string ToString() => $"{Name}: {Mismatches} of {Values} differ, by at most {MaxSteps} step(s)";
    }

    /// <summary>Compares every exposed int8 activation of ORT with the reference's, over seeded inputs.</summary>
    public sealed record Summary(IReadOnlyList<Result> PerTensor)
    {
        public long Values => PerTensor.Sum(r => r.Values);
        public long Mismatches => PerTensor.Sum(r => r.Mismatches);
        public int MaxSteps => PerTensor.Max(r => r.MaxSteps);
    }

    public static IReadOnlyList<Result> Compare(GeneratedModel model, OnnxSession session, int inputs)
    {
        var stats = new Dictionary<string, (long Values, long Mismatches, int MaxSteps)>();
        var order = new List<string>();
        for (int n = 0; n < inputs; n++)
        {
            float[] x = model.Reference.SampleInput((ulong)n + 1);
            var expected = model.Reference.QuantizedActivations(x);
            var outputs = session.Run([OnnxTensor.Create(model.InputName, model.InputShape, x)]);
            foreach (var (name, want) in expected)
            {
                var got = outputs.Single(o => o.Name == name).GetData<sbyte>();
                Assert.Equal(want.Length, got.Length);
                var s = stats.GetValueOrDefault(name);
                if (n == 0) order.Add(name);
                for (int i = 0; i < want.Length; i++)
                {
                    int d = Math.Abs(want[i] - got[i]);
                    s.Values++;
                    if (d != 0) s.Mismatches++;
                    s.MaxSteps = Math.Max(s.MaxSteps, d);
                }
                stats[name] = s;
            }
        }
        return order.Select(n => new Result(n, stats[n].Values, stats[n].Mismatches, stats[n].MaxSteps)).ToArray();
    }
}
