using System.Text;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Streams;

public sealed class LineSampleParserTests
{
    private static readonly string[] Channels = ["ax", "ay", "az"];

    private static (LineParseOutcome Outcome, float[] Values, double Timestamp) Parse(LineSampleParser parser, string line)
    {
        var values = new float[Channels.Length];
        var outcome = parser.Parse(Encoding.UTF8.GetBytes(line), values, out double ts);
        return (outcome, values, ts);
    }

    [Fact]
    public void Csv_header_maps_columns_by_name_in_any_order()
    {
        var stats = new SensorStats();
        var parser = new LineSampleParser("test", Channels, LineFormat.Csv, csvHeader: true, "t", stats);
        Assert.Equal(LineParseOutcome.Skipped, Parse(parser, "az, t ,ax,ay").Outcome);
        var (outcome, values, ts) = Parse(parser, " 0.98,12.5,0.1 ,-0.2");
        Assert.Equal(LineParseOutcome.Sample, outcome);
        Assert.Equal(new[] { 0.1f, -0.2f, 0.98f }, values);
        Assert.Equal(12.5, ts);
        Assert.Equal(0, stats.BadTotal);
    }

    [Fact]
    public void Headerless_csv_is_timestamp_then_channels_in_configured_order()
    {
        var parser = new LineSampleParser("test", Channels, LineFormat.Csv, csvHeader: false, "t", new SensorStats());
        var (outcome, values, ts) = Parse(parser, "1.5,1,2,3");
        Assert.Equal(LineParseOutcome.Sample, outcome);
        Assert.Equal(new[] { 1f, 2f, 3f }, values);
        Assert.Equal(1.5, ts);
        var noTime = new LineSampleParser("test", Channels, LineFormat.Csv, csvHeader: false, null, new SensorStats());
        var r = Parse(noTime, "1,2,3");
        Assert.Equal(new[] { 1f, 2f, 3f }, r.Values);
        Assert.True(double.IsNaN(r.Timestamp));
    }

    [Fact]
    public void Every_kind_of_malformed_csv_line_is_counted_by_reason_and_skipped()
    {
        var stats = new SensorStats();
        var parser = new LineSampleParser("test", Channels, LineFormat.Csv, csvHeader: true, "t", stats);
        Parse(parser, "t,ax,ay,az,extra"); // unknown column: counted once, ignored
        string[] lines =
        [
            "1,0.1,0.2",             // too few fields
            "1,0.1,0.2,0.3,0.4,0.5", // too many fields
            "1,0.1,abc,0.3,0",       // not a number
            "1,0.1,,0.3,0",          // empty field
            "x,0.1,0.2,0.3,0",       // bad timestamp
            "",                      // blank: skipped, not bad
            "# comment",             // comment: skipped, not bad
            "2,NaN,0.2,0.3,9",       // parses; the windower counts non-finite values
            "3,1,2,3,4",
        ];
        var outcomes = lines.Select(l => Parse(parser, l).Outcome).ToArray();
        Assert.Equal(new[]
        {
            LineParseOutcome.Bad, LineParseOutcome.Bad, LineParseOutcome.Bad, LineParseOutcome.Bad, LineParseOutcome.Bad,
            LineParseOutcome.Skipped, LineParseOutcome.Skipped, LineParseOutcome.Sample, LineParseOutcome.Sample,
        }, outcomes);
        Assert.Equal(1, stats.Bad(BadSampleReason.UnknownChannel));
        Assert.Equal(2, stats.Bad(BadSampleReason.WrongArity));
        Assert.Equal(3, stats.Bad(BadSampleReason.Unparseable));
    }

    [Fact]
    public void Csv_header_missing_a_channel_is_a_fault_naming_the_channel()
    {
        var parser = new LineSampleParser("file:x.csv", Channels, LineFormat.Csv, csvHeader: true, "t", new SensorStats());
        var e = Assert.Throws<SensorSourceException>(() => Parse(parser, "t,ax,ay"));
        Assert.Equal("file:x.csv: CSV header 't,ax,ay' lacks channel(s) 'az'; configured channels are ax, ay, az", e.Message);
    }

    [Fact]
    public void Jsonl_objects_map_keys_to_channels()
    {
        var stats = new SensorStats();
        var parser = new LineSampleParser("test", Channels, LineFormat.Jsonl, false, "t", stats);
        var (outcome, values, ts) = Parse(parser, """{"az": 0.98, "t": 3.25, "ax": 0.1, "ay": -2e-1}""");
        Assert.Equal(LineParseOutcome.Sample, outcome);
        Assert.Equal(new[] { 0.1f, -0.2f, 0.98f }, values);
        Assert.Equal(3.25, ts);
        var nan = Parse(parser, """{"ax": null, "ay": "NaN", "az": "1.5"}""");
        Assert.Equal(LineParseOutcome.Sample, nan.Outcome);
        Assert.True(float.IsNaN(nan.Values[0]) && float.IsNaN(nan.Values[1]));
        Assert.Equal(1.5f, nan.Values[2]);
        Assert.Equal(0, stats.BadTotal);
    }

    [Fact]
    public void Every_kind_of_malformed_jsonl_line_is_counted_by_reason_and_skipped()
    {
        var stats = new SensorStats();
        var parser = new LineSampleParser("test", Channels, LineFormat.Jsonl, false, "t", stats);
        string[] unparseable =
        [
            """{"ax": 1, "ay": 2, "az": 3""",           // truncated
            """[1, 2, 3]""",                           // not an object
            """{"ax": 1, "ay": 2, "az": "fast"}""",    // string that is not a number
            """{"ax": 1, "ay": 2, "az": {"v": 3}}""",  // nested
            """{"ax": 1, "ay": 2, "az": 3, "ax": 4}""",// duplicate key
            """{"ax": 1, "ay": 2, "az": 3} trailing""",
            """{"ax": 1, "ay": 2, "az": 3, "t": "noon"}""",
            """{"ax": 1, "ay": 2, "az": true}""",
            "not json at all",
        ];
        foreach (var line in unparseable) Assert.Equal(LineParseOutcome.Bad, Parse(parser, line).Outcome);
        Assert.Equal(LineParseOutcome.Bad, Parse(parser, """{"ax": 1, "ay": 2}""").Outcome);
        Assert.Equal(LineParseOutcome.Bad, Parse(parser, """{"ax": 1, "ay": 2, "az": 3, "gx": 4}""").Outcome);
        Assert.Equal(unparseable.Length, stats.Bad(BadSampleReason.Unparseable));
        Assert.Equal(1, stats.Bad(BadSampleReason.WrongArity));
        Assert.Equal(1, stats.Bad(BadSampleReason.UnknownChannel));
    }

    [Fact]
    public void Long_lines_are_discarded_up_to_the_next_newline_and_counted_once()
    {
        var stats = new SensorStats();
        var splitter = new LineSplitter(maxLineBytes: 16, stats);
        var input = Encoding.UTF8.GetBytes("1,2,3\n" + new string('9', 40) + "\n4,5,6\r\n7,8");
        var lines = new List<string>();
        foreach (var chunk in input.Chunk(7)) // arrives in pieces, as from a socket
        {
            chunk.CopyTo(splitter.GetReadMemory());
            splitter.Advance(chunk.Length);
            while (splitter.TryReadLine(out int s, out int n)) lines.Add(Encoding.UTF8.GetString(splitter.Buffer, s, n));
        }
        if (splitter.TryReadFinalLine(out int fs, out int fn)) lines.Add(Encoding.UTF8.GetString(splitter.Buffer, fs, fn));
        Assert.Equal(new[] { "1,2,3", "4,5,6", "7,8" }, lines);
        Assert.Equal(1, stats.Bad(BadSampleReason.LineTooLong));
    }
}
