using EdgeAgent.Hub.Dashboard;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Metrics;

public sealed class PrometheusTextWriterTests
{
    [Fact]
    public void Help_and_label_values_are_escaped_per_the_format_and_read_back_unchanged()
    {
        var w = new PrometheusTextWriter();
        w.Family("x_total", "counter", "back\\slash and\nnew line \"quotes stay\"").Sample(3, ("a", "q\"b\\s\nn"), ("b", ""));
        var text = w.ToString();
        Assert.Equal("# HELP x_total back\\\\slash and\\nnew line \"quotes stay\"\n# TYPE x_total counter\nx_total{a=\"q\\\"b\\\\s\\nn\",b=\"\"} 3\n", text);
        var f = PrometheusExposition.Parse(text)["x_total"];
        Assert.Equal("back\\slash and\nnew line \"quotes stay\"", f.Help);
        Assert.Equal("q\"b\\s\nn", f.Samples.Single().Label("a"));
    }

    [Fact]
    public void Special_values_are_written_as_go_floats()
    {
        var w = new PrometheusTextWriter().Family("g", "gauge", "h").Sample(double.NaN, ("k", "1")).Sample(double.PositiveInfinity, ("k", "2"))
            .Sample(double.NegativeInfinity, ("k", "3")).Sample(0.1, ("k", "4")).Sample(1e21, ("k", "5"));
        Assert.Contains("g{k=\"1\"} NaN\n", w.ToString());
        Assert.Contains("g{k=\"2\"} +Inf\n", w.ToString());
        Assert.Contains("g{k=\"3\"} -Inf\n", w.ToString());
        Assert.Contains("g{k=\"4\"} 0.1\n", w.ToString());
        Assert.Equal(1e21, PrometheusExposition.Parse(w.ToString())["g"].Samples.Single(s => s.Label("k") == "5").Value);
    }

    [Fact]
    public void Invalid_names_types_and_repeated_families_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new PrometheusTextWriter().Family("1bad", "gauge", "h"));
        Assert.Throws<ArgumentException>(() => new PrometheusTextWriter().Family("ok", "meter", "h"));
        Assert.Throws<ArgumentException>(() => new PrometheusTextWriter().Family("ok", "gauge", "h").Sample(1, ("__reserved", "x")));
        Assert.Throws<ArgumentException>(() => new PrometheusTextWriter().Family("ok", "gauge", "h").Sample(1, ("with-dash", "x")));
        var w = new PrometheusTextWriter().Family("ok", "gauge", "h");
        Assert.Throws<InvalidOperationException>(() => w.Family("ok", "gauge", "again"));
        Assert.Throws<InvalidOperationException>(() => new PrometheusTextWriter().Sample(1));
    }

    [Fact]
    public void The_test_parser_rejects_what_the_format_forbids()
    {
        // The parser guards the endpoint test: it must itself refuse broken expositions.
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("# HELP a h\n# TYPE a gauge\na 1"));                 // no final line feed
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("a 1\n"));                                          // no TYPE
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("# HELP a h\n# TYPE a gauge\na{x=\"\\t\"} 1\n"));  // bad escape
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("# HELP a h\n# TYPE a gauge\na 1\na 2\n"));         // series twice
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b gauge\na 1\n")); // not contiguous
        Assert.Throws<FormatException>(() => PrometheusExposition.Parse("# HELP a h\n# TYPE a gauge\na one\n"));           // not a float
    }
}
