namespace EdgeAgent.OnnxFormat.Tests.Json;

public sealed class JsonTensorReaderTests
{
    [Fact]
    public void Nested_arrays_give_the_shape()
    {
        var t = JsonTensorReader.Parse("[[1, 2, 3], [4, 5, 6.5]]", OnnxElementType.Float, "x");
        Assert.Equal("x", t.Name);
        Assert.Equal(new long[] { 2, 3 }, t.Dims);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6.5f }, t.GetData<float>());
    }

    [Fact]
    public void A_bare_number_is_a_scalar()
    {
        var t = JsonTensorReader.Parse("42", OnnxElementType.Int64);
        Assert.Empty(t.Dims);
        Assert.Equal(42L, Assert.Single(t.GetData<long>()));
    }

    [Fact]
    public void Dims_and_flat_data_object_is_accepted()
    {
        var t = JsonTensorReader.Parse("""{"dims":[1,2,2],"data":[1,-2,3,-4]}""", OnnxElementType.Int8);
        Assert.Equal(new long[] { 1, 2, 2 }, t.Dims);
        Assert.Equal(new sbyte[] { 1, -2, 3, -4 }, t.GetData<sbyte>());
        var s = JsonTensorReader.Parse("""{"shape":[4],"data":[[1,2],[3,4]]}""", OnnxElementType.Int32);
        Assert.Equal(new long[] { 4 }, s.Dims);
    }

    [Fact]
    public void Empty_arrays_have_zero_dimensions()
    {
        Assert.Equal(new long[] { 0 }, JsonTensorReader.Parse("[]", OnnxElementType.Float).Dims);
        Assert.Equal(new long[] { 2, 0 }, JsonTensorReader.Parse("[[],[]]", OnnxElementType.Float).Dims);
    }

    [Theory]
    [InlineData("[[1,2],[3]]", "element [1] has 1 elements, expected 2")]
    [InlineData("[[1,2],3]", "element [1] is a value where an array of 2 was expected")]
    [InlineData("[1,[2,3]]", "element [1] is an array where a value was expected")]
    [InlineData("[[[1],[2]],[[3],[4,5]]]", "element [1,1] has 2 elements, expected 1")]
    public void Ragged_arrays_are_rejected_with_the_position(string json, string expected)
    {
        var e = Assert.Throws<OnnxFormatException>(() => JsonTensorReader.Parse(json, OnnxElementType.Float, "x"));
        Assert.Contains("ragged", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("[1, 200]", OnnxElementType.Int8, "value 200 at [1] is out of range for int8")]
    [InlineData("[-1]", OnnxElementType.UInt8, "out of range for uint8")]
    [InlineData("[1.5]", OnnxElementType.Int32, "is not an integer")]
    [InlineData("[\"a\"]", OnnxElementType.Float, "is not a number")]
    [InlineData("[true]", OnnxElementType.Int64, "is not a number")]
    [InlineData("[2]", OnnxElementType.Bool, "is not a boolean")]
    [InlineData("[1]", OnnxElementType.String, "is not a string")]
    [InlineData("[1e40]", OnnxElementType.Int64, "is not an integer")]
    [InlineData("[1, 2", OnnxElementType.Float, "not valid JSON")]
    [InlineData("{\"dims\":[3],\"data\":[1,2]}", OnnxElementType.Float, "need 3 values but \"data\" has 2")]
    [InlineData("{\"dims\":[2]}", OnnxElementType.Float, "needs both")]
    [InlineData("{\"dims\":[-1],\"data\":[]}", OnnxElementType.Float, "non-negative integers")]
    [InlineData("{\"dims\":[2],\"data\":[1,2],\"type\":\"f\"}", OnnxElementType.Float, "unexpected key 'type'")]
    public void Bad_values_are_rejected_with_a_clear_message(string json, OnnxElementType type, string expected)
    {
        var e = Assert.Throws<OnnxFormatException>(() => JsonTensorReader.Parse(json, type, "x"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("'x'", e.Message);
    }

    [Fact]
    public void Integral_floats_are_accepted_for_integer_types_and_bool_takes_0_and_1()
    {
        Assert.Equal(new short[] { 3, -4 }, JsonTensorReader.Parse("[3.0, -4]", OnnxElementType.Int16).GetData<short>());
        Assert.Equal(new[] { true, false, true, false }, JsonTensorReader.Parse("[true, false, 1, 0]", OnnxElementType.Bool).GetData<bool>());
        Assert.Equal(ulong.MaxValue, JsonTensorReader.Parse("[18446744073709551615]", OnnxElementType.UInt64).GetData<ulong>()[0]);
    }

    [Fact]
    public void Non_finite_floats_are_written_and_read_as_strings()
    {
        var t = OnnxTensor.Create("x", [2, 2], new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0.1f });
        string json = JsonTensorWriter.ToJson(t);
        Assert.Equal("""[["NaN","Infinity"],["-Infinity",0.1]]""", json);
        Assert.True(t.ContentEquals(JsonTensorReader.Parse(json, OnnxElementType.Float, "x")));
    }

    [Theory]
    [InlineData(OnnxElementType.Float)]
    [InlineData(OnnxElementType.Double)]
    [InlineData(OnnxElementType.Float16)]
    [InlineData(OnnxElementType.Int8)]
    [InlineData(OnnxElementType.UInt8)]
    [InlineData(OnnxElementType.Int16)]
    [InlineData(OnnxElementType.Int32)]
    [InlineData(OnnxElementType.Int64)]
    [InlineData(OnnxElementType.UInt64)]
    [InlineData(OnnxElementType.Bool)]
    [InlineData(OnnxElementType.String)]
    public void Writer_output_reads_back_identically(OnnxElementType type)
    {
        var t = Tensors.TensorProtoCodecTests.Sample(type, [2, 3, 2]);
        var back = JsonTensorReader.Parse(JsonTensorWriter.ToJson(t), type, t.Name);
        Assert.True(t.ContentEquals(back), JsonTensorWriter.ToJson(t));
    }

    [Fact]
    public void Named_inputs_are_read_with_each_input_type()
    {
        var types = new Dictionary<string, OnnxElementType> { ["x"] = OnnxElementType.Float, ["mask"] = OnnxElementType.Bool };
        var tensors = JsonTensorReader.ParseNamed("""{"x":[[1,2]],"mask":{"dims":[2],"data":[true,false]}}"""u8, types);
        Assert.Equal(new[] { "x", "mask" }, tensors.Select(t => t.Name));
        Assert.Equal(OnnxElementType.Bool, tensors[1].ElementType);
        var e = Assert.Throws<OnnxFormatException>(() => JsonTensorReader.ParseNamed("""{"y":[1]}"""u8, types));
        Assert.Contains("'y'", e.Message);
        Assert.Contains("x, mask", e.Message);
    }

    [Fact]
    public void Values_for_a_model_input_are_reshaped_to_its_declared_shape()
    {
        var window = new OnnxValueInfo("window", OnnxElementType.Float, [1, 3, 4]);
        string flat = "[" + string.Join(",", Enumerable.Range(0, 12)) + "]";
        var t = JsonTensorReader.ParseFor(System.Text.Encoding.UTF8.GetBytes(flat), window);
        Assert.Equal(new long[] { 1, 3, 4 }, t.Dims);
        Assert.Equal("window", t.Name);
        Assert.Equal(11f, t.GetData<float>()[11]);

        var batched = new OnnxValueInfo("x", OnnxElementType.Int8, ["batch", 2]);
        Assert.Equal(new long[] { 3, 2 }, JsonTensorReader.ParseFor("[1,2,3,4,5,6]"u8, batched).Dims);
        Assert.Equal(new long[] { 2, 2 }, JsonTensorReader.ParseFor("[[1,2],[3,4]]"u8, batched).Dims); // already fits
        var unknownRank = new OnnxValueInfo("u", OnnxElementType.Float, null);
        Assert.Equal(new long[] { 2 }, JsonTensorReader.ParseFor("[1,2]"u8, unknownRank).Dims);
    }

    [Fact]
    public void Values_that_do_not_fit_the_model_input_are_rejected_with_both_shapes()
    {
        var window = new OnnxValueInfo("window", OnnxElementType.Float, [1, 3, 128]);
        var e = Assert.Throws<OnnxFormatException>(() => JsonTensorReader.ParseFor("[[1,2,3],[4,5,6]]"u8, window));
        Assert.Equal("Input 'window' expects float32[1,3,128] (384 values) but the JSON has shape [2,3] (6 values).", e.Message);
        var batched = new OnnxValueInfo("x", OnnxElementType.Float, ["batch", 4]);
        Assert.Contains("a multiple of 4 values", Assert.Throws<OnnxFormatException>(() => JsonTensorReader.ParseFor("[1,2,3]"u8, batched)).Message);
    }
}
