using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Onnx.Tests.Models;

/// <summary>
/// Every Cast the generator can build between the edge dtypes, run in ORT on values both types represent,
/// compared with ONNX Cast semantics (float → integer truncates toward zero, anything → bool is "≠ 0",
/// bool → number is 0/1), and the symbolic dimensions of the generated models accepted by ORT.
/// </summary>
public sealed class SimpleModelOrtTests
{
    private static readonly OnnxElementType[] EdgeTypes =
    [
        OnnxElementType.Float, OnnxElementType.Double, OnnxElementType.Int8, OnnxElementType.UInt8, OnnxElementType.Int16,
        OnnxElementType.Int32, OnnxElementType.Int64, OnnxElementType.Bool, OnnxElementType.Float16,
    ];

    private static readonly double[] Candidates = [0, 1, 2, 7, 100, 127, -1, -7, -100, -128, 0.5, 2.5, -2.5, 126.75, 1000];

    public static TheoryData<OnnxElementType> Sources() => [.. EdgeTypes];

    [Theory]
    [MemberData(nameof(Sources))]
    public void Cast_from_each_edge_type_to_every_other_follows_onnx_semantics(OnnxElementType from)
    {
        foreach (var to in EdgeTypes)
        {
            double[] values = Candidates.Where(v => Representable(v, from) && InTargetRange(v, to)).ToArray();
            if (from == OnnxElementType.Bool) values = [0, 1];
            using var session = OnnxSession.Load(SimpleModels.Cast(from, to, ["n"]), sourceName: $"cast {from}->{to}");
            var input = Tensor(SimpleModels.InputName, from, values);
            var output = Assert.Single(session.Run([input]));
            var expected = Tensor(SimpleModels.OutputName, to, values.Select(v => Cast(v, to)).ToArray());
            Assert.True(expected.ContentEquals(output),
                $"Cast {ElementTypes.Name(from)} -> {ElementTypes.Name(to)} of [{string.Join(", ", values)}]: expected {Show(expected)}, ORT gave {Show(output)}");
        }
    }

    [Fact]
    public void Identity_with_symbolic_dimensions_accepts_any_size()
    {
        using var session = OnnxSession.Load(SimpleModels.Identity(OnnxElementType.Int8, ["batch", "len"]), sourceName: "identity");
        foreach (var (b, l) in new[] { (1, 1), (3, 128), (0, 4) })
        {
            var x = OnnxTensor.Create(SimpleModels.InputName, [b, l], Enumerable.Range(0, b * l).Select(i => (sbyte)(i % 256 - 128)).ToArray());
            Assert.True(x.ContentEquals(session.Run([x])[0]));
        }
    }

    private static bool Representable(double v, OnnxElementType t) => t switch
    {
        OnnxElementType.Float or OnnxElementType.Double => true,
        OnnxElementType.Float16 => (double)(Half)v == v,
        OnnxElementType.Bool => v is 0 or 1,
        _ => v == Math.Truncate(v) && InIntegerRange(v, t),
    };

    private static bool InTargetRange(double v, OnnxElementType t) => t switch
    {
        OnnxElementType.Float or OnnxElementType.Double or OnnxElementType.Bool => true,
        OnnxElementType.Float16 => (double)(Half)v == v,
        // ONNX leaves out-of-range and negative-to-unsigned float conversions implementation-defined: skip them.
        _ => InIntegerRange(Math.Truncate(v), t) && (v >= 0 || t is not OnnxElementType.UInt8),
    };

    private static bool InIntegerRange(double v, OnnxElementType t) => t switch
    {
        OnnxElementType.Int8 => v is >= sbyte.MinValue and <= sbyte.MaxValue,
        OnnxElementType.UInt8 => v is >= 0 and <= byte.MaxValue,
        OnnxElementType.Int16 => v is >= short.MinValue and <= short.MaxValue,
        OnnxElementType.Int32 or OnnxElementType.Int64 => v is >= int.MinValue and <= int.MaxValue,
        _ => false,
    };

    private static double Cast(double v, OnnxElementType to) => to switch
    {
        OnnxElementType.Bool => v != 0 ? 1 : 0,
        OnnxElementType.Float or OnnxElementType.Double or OnnxElementType.Float16 => v,
        _ => Math.Truncate(v),
    };

    private static OnnxTensor Tensor(string name, OnnxElementType type, double[] v)
    {
        long[] dims = [v.Length];
        return type switch
        {
            OnnxElementType.Float => OnnxTensor.Create(name, dims, v.Select(x => (float)x).ToArray()),
            OnnxElementType.Double => OnnxTensor.Create(name, dims, v),
            OnnxElementType.Float16 => OnnxTensor.Create(name, dims, v.Select(x => (Half)x).ToArray()),
            OnnxElementType.Int8 => OnnxTensor.Create(name, dims, v.Select(x => (sbyte)x).ToArray()),
            OnnxElementType.UInt8 => OnnxTensor.Create(name, dims, v.Select(x => (byte)x).ToArray()),
            OnnxElementType.Int16 => OnnxTensor.Create(name, dims, v.Select(x => (short)x).ToArray()),
            OnnxElementType.Int32 => OnnxTensor.Create(name, dims, v.Select(x => (int)x).ToArray()),
            OnnxElementType.Int64 => OnnxTensor.Create(name, dims, v.Select(x => (long)x).ToArray()),
            OnnxElementType.Bool => OnnxTensor.Create(name, dims, v.Select(x => x != 0).ToArray()),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    private static string Show(OnnxTensor t) => JsonTensorWriter.ToJson(t);
}
