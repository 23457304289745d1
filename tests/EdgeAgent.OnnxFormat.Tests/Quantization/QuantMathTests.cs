namespace EdgeAgent.OnnxFormat.Tests.Quantization;

public sealed class QuantMathTests
{
    [Theory]
    [InlineData(0.5f, 0)]
    [InlineData(1.5f, 2)]
    [InlineData(2.5f, 2)]
    [InlineData(3.5f, 4)]
    [InlineData(-0.5f, 0)]
    [InlineData(-1.5f, -2)]
    [InlineData(-2.5f, -2)]
    [InlineData(2.4999998f, 2)]
    [InlineData(2.5000002f, 3)]
    public void Quantize_rounds_half_to_even(float x, int expected)
    {
        Assert.Equal(expected, QuantMath.Quantize(x, 1f, 0));
    }

    [Theory]
    [InlineData(127.4f, 0, 127)]
    [InlineData(127.5f, 0, 127)]   // 128 after rounding: saturates
    [InlineData(1000f, 0, 127)]
    [InlineData(-128.5f, 0, -128)] // -128 after half-to-even rounding
    [InlineData(-1000f, 0, -128)]
    [InlineData(float.PositiveInfinity, 0, 127)]
    [InlineData(float.NegativeInfinity, 0, -128)]
    [InlineData(100f, 50, 127)]    // saturation applies after adding the zero point
    [InlineData(-100f, -50, -128)]
    [InlineData(-3f, -128, -128)]  // post-ReLU zero point: negatives land on the floor, like ReLU would
    [InlineData(0f, -128, -128)]
    public void Quantize_saturates_after_adding_the_zero_point(float x, int zeroPoint, int expected)
    {
        Assert.Equal(expected, QuantMath.Quantize(x, 1f, (sbyte)zeroPoint));
    }

    [Fact]
    public void Quantize_divides_by_the_scale_in_float32()
    {
        // 0.3 / 0.1 in float32 is 2.9999998 → 3; by reciprocal multiplication it would be 3.0000002 → 3 as well,
        // but 0.25 / 0.1 = 2.5 exactly in float32 → 2 (half to even), the ONNX backend-test behaviour.
        Assert.Equal(3, QuantMath.Quantize(0.3f, 0.1f, 0));
        Assert.Equal(2, QuantMath.Quantize(0.25f, 0.1f, 0));
        Assert.Equal(-2, QuantMath.Quantize(-0.25f, 0.1f, 0));
    }

    [Fact]
    public void NaN_quantizes_to_the_zero_point()
    {
        Assert.Equal(-5, QuantMath.Quantize(float.NaN, 0.5f, -5));
    }

    [Fact]
    public void Dequantize_subtracts_the_zero_point_then_scales()
    {
        Assert.Equal(-127.5f, QuantMath.Dequantize(sbyte.MinValue, 0.5f, 127));
        Assert.Equal(0f, QuantMath.Dequantize(-128, 0.25f, -128));
        Assert.Equal(1.5f, QuantMath.Dequantize(3, 0.5f));
    }

    [Fact]
    public void QuantizeLinear_backend_test_values_are_reproduced_with_an_int8_zero_point()
    {
        // test_quantizelinear (uint8, zero point 128) shifted to int8 (zero point 0): y - 128.
        float[] x = [0, 2, 3, 1000, -254, -1000];
        int[] expectedUint8 = [128, 129, 130, 255, 1, 0];
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(expectedUint8[i] - 128, QuantMath.Quantize(x[i], 2f, 0));
    }

    [Fact]
    public void Symmetric_parameters_map_the_range_onto_plus_minus_127()
    {
        var (scale, zp) = QuantMath.Symmetric(2.54f);
        Assert.Equal(0, zp);
        Assert.Equal(127, QuantMath.Quantize(2.54f, scale, zp));
        Assert.Equal(-127, QuantMath.Quantize(-2.54f, scale, zp));
    }

    [Fact]
    public void Asymmetric_parameters_for_a_post_relu_range_use_zero_point_minus_128()
    {
        var (scale, zp) = QuantMath.Asymmetric(0f, 5.1f);
        Assert.Equal(-128, zp);
        Assert.Equal(0.02f, scale, 6);
        Assert.Equal(127, QuantMath.Quantize(5.1f, scale, zp));
        var (s2, z2) = QuantMath.Asymmetric(-1f, 3f);
        Assert.Equal(4f / 255, s2, 6);
        Assert.Equal(-64, z2); // round(-128 + 1/(4/255)) = round(-64.25)
    }

    [Fact]
    public void A_zero_range_still_gives_a_usable_scale()
    {
        Assert.True(QuantMath.Symmetric(0f).Scale > 0);
        Assert.True(QuantMath.Asymmetric(0f, 0f).Scale > 0);
    }

    [Fact]
    public void Softmax_is_stable_for_large_logits_and_sums_to_one()
    {
        float[] v = [1000f, 1001f, 999f, -1000f];
        QuantMath.Softmax(v);
        Assert.Equal(1.0, v.Sum(x => (double)x), 5);
        Assert.Equal(1, QuantMath.ArgMax(v));
        Assert.True(v.All(float.IsFinite));
    }
}
