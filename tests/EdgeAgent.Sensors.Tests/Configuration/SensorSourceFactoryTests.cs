using System.Text.Json;
using EdgeAgent.Sensors.Configuration;
using EdgeAgent.Sensors.Iio;
using EdgeAgent.Sensors.Sockets;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Configuration;

public sealed class SensorSourceFactoryTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static SensorSourceOptions Parse(string json) =>
        JsonSerializer.Deserialize(json, SensorsJsonContext.Default.SensorSourceOptions)!;

    private static IReadOnlyList<string> Problems(SensorSourceOptions options) =>
        Assert.Throws<SensorConfigurationException>(() => SensorSourceFactory.Create(options)).Problems;

    [Fact]
    public void Missing_gpio_chip_is_reported_with_its_path()
    {
        var problems = Problems(Parse("""{ "kind": "gpio", "gpio": { "chip": "/dev/gpiochip9", "lines": [ { "offset": 17 } ] } }"""));
        var problem = Assert.Single(problems);
        Assert.StartsWith("sensors.gpio.chip: /dev/gpiochip9 does not exist (", problem);
    }

    [Fact]
    public void Every_gpio_problem_is_listed_at_once()
    {
        var problems = Problems(Parse("""{ "kind": "GPIO", "gpio": { "chip": "/dev/null", "mode": "edge", "bias": "up", "lines": [] } }"""));
        // /dev/null is a character device, so the chip check passes; the other three are reported together.
        Assert.Equal(new[]
        {
            "sensors.gpio.mode: 'edge' is not one of edges, levels",
            "sensors.gpio.bias: 'up' is not one of as-is, pull-up, pull-down, disabled",
            "sensors.gpio.lines: at least one line offset is required",
        }, problems);
        Assert.Contains($"sensors.gpio.chip: {_dir.Path} is not a character device",
            Problems(Parse($$"""{ "kind": "gpio", "gpio": { "chip": "{{_dir.Path}}", "lines": [ { "offset": 1 } ] } }""")));
    }

    [Fact]
    public void Kind_must_be_known()
    {
        Assert.Equal("sensors.kind: missing; set one of gpio, iio, file, fifo, serial, stdin, socket, synthetic", Assert.Single(Problems(new SensorSourceOptions())));
        Assert.Equal("sensors.kind: 'camera' is not one of gpio, iio, file, fifo, serial, stdin, socket, synthetic",
            Assert.Single(Problems(new SensorSourceOptions { Kind = "camera" })));
        Assert.Equal("sensors.stream: section is required for kind 'file'", Assert.Single(Problems(new SensorSourceOptions { Kind = "file" })));
    }

    [Fact]
    public void Stream_options_are_checked_per_kind()
    {
        var file = Problems(Parse($$"""{ "kind": "file", "stream": { "path": "{{_dir.File("none.csv")}}", "replay": "recorded", "timestampField": "", "speed": 0, "format": "xml" } }"""));
        Assert.Equal(new[]
        {
            "sensors.stream.format: 'xml' is not one of csv, jsonl",
            "sensors.stream.channels: required (names of the values in each line, in the order samples should carry them)",
            "sensors.stream.speed: must be in (0, 1000000] (is 0)",
            "sensors.stream.replay: 'recorded' needs timestamps; set sensors.stream.timestampField",
            $"sensors.stream.path: {_dir.File("none.csv")} does not exist",
        }, file);

        var serial = Problems(Parse("""{ "kind": "serial", "stream": { "path": "/dev/ttyEdgeAgentNone", "baudRate": 12345, "channels": ["a"] } }"""));
        Assert.Equal("sensors.stream.path: serial device /dev/ttyEdgeAgentNone does not exist", serial[0]);
        Assert.StartsWith("sensors.stream.baudRate: 12345 is not supported; use one of 1200, ", serial[1]);

        File.WriteAllText(_dir.File("regular"), "");
        var fifo = Problems(Parse($$"""{ "kind": "fifo", "stream": { "path": "{{_dir.File("regular")}}", "channels": ["a"] } }"""));
        Assert.Equal($"sensors.stream.path: {_dir.File("regular")} exists and is not a FIFO", Assert.Single(fifo));

        var dir = Problems(Parse($$"""{ "kind": "file", "stream": { "path": "{{_dir.Path}}", "channels": ["a"] } }"""));
        Assert.Equal($"sensors.stream.path: {_dir.Path} is not a regular file (use kind 'fifo' or 'serial' for those)", Assert.Single(dir));
    }

    [Fact]
    public void Socket_options_refuse_world_access_and_missing_directories()
    {
        var problems = Problems(Parse($$"""{ "kind": "socket", "socket": { "path": "{{_dir.File("x/s.sock")}}", "mode": "666", "channels": ["a","a"], "maxClients": 0 } }"""));
        Assert.Equal(new[]
        {
            "sensors.socket.channels: duplicate name(s) a",
            $"sensors.socket.path: directory of {_dir.File("x/s.sock")} does not exist (systemd creates /run/edgeagent with RuntimeDirectory=edgeagent)",
            "sensors.socket.mode: 666 lets every local user connect; use 660 or 600 and a group",
            "sensors.socket.maxClients: must be in [1, 1024] (is 0)",
        }, problems);
        Assert.Contains("sensors.socket.mode: '9x' is not an octal permission like 660",
            Problems(Parse($$"""{ "kind": "socket", "socket": { "path": "{{_dir.File("s.sock")}}", "mode": "9x", "channels": ["a"] } }""")));
    }

    [Fact]
    public void Synthetic_and_iio_problems_name_the_option()
    {
        var synthetic = Problems(Parse("""{ "kind": "synthetic", "synthetic": { "schedule": "idle:5,jog:10", "anomalies": "spike,boom", "rateHz": -1 } }"""));
        Assert.Equal(new[]
        {
            "sensors.synthetic.schedule: 'jog:10' is not class:seconds with class one of idle, walk, run, vibration-fault",
            "sensors.synthetic.anomalies: 'boom' is not one of spike, stuck, nan-burst",
            "sensors.synthetic.rateHz: must be in (0, 100000] (is -1)",
            "sensors.synthetic.anomalyRatePerSecond: must be in [0, rateHz]",
        }, synthetic);

        var iio = Problems(Parse($$"""{ "kind": "iio", "iio": { "sysfsRoot": "{{_dir.Path}}", "device": "lsm6dsl", "channels": ["accel_x"] } }"""));
        Assert.Equal($"sensors.iio: no IIO device 'lsm6dsl' under {_dir.Path} (found: none)", Assert.Single(iio));
    }

    [Fact]
    public async Task Valid_configurations_build_the_configured_source()
    {
        File.WriteAllText(_dir.File("rec.csv"), "t,ax,ay\n0,1,2\n");
        Directory.CreateDirectory(_dir.File("iio:device0"));
        File.WriteAllText(_dir.File("iio:device0/name"), "adc\n");
        File.WriteAllText(_dir.File("iio:device0/in_voltage0_raw"), "1\n");
        var (master, slave) = Posix.OpenPty();
        try
        {
            (string Json, Type Type)[] cases =
            [
                ("""{ "kind": "synthetic" }""", typeof(SyntheticSource)),
                ($$"""{ "kind": "file", "stream": { "path": "{{_dir.File("rec.csv")}}", "replay": "recorded", "speed": 4 } }""", typeof(LineStreamSource)),
                ($$"""{ "kind": "fifo", "stream": { "path": "{{_dir.File("in.fifo")}}", "channels": ["a"] } }""", typeof(LineStreamSource)),
                ($$"""{ "kind": "serial", "stream": { "path": "{{slave}}", "baudRate": 9600, "channels": ["a"], "format": "jsonl" } }""", typeof(LineStreamSource)),
                ("""{ "kind": "stdin", "stream": { "channels": ["a"], "format": "jsonl" } }""", typeof(LineStreamSource)),
                ($$"""{ "kind": "socket", "socket": { "path": "{{_dir.File("s.sock")}}", "channels": ["a"] } }""", typeof(UnixSocketSource)),
                ($$"""{ "kind": "iio", "iio": { "sysfsRoot": "{{_dir.Path}}", "device": "adc", "channels": ["voltage0"] } }""", typeof(IioSource)),
            ];
            foreach (var (json, type) in cases)
            {
                var options = Parse(json);
                Assert.Empty(SensorSourceFactory.Validate(options));
                await using var source = SensorSourceFactory.Create(options);
                Assert.IsType(type, source);
            }
            await using var file = SensorSourceFactory.Create(Parse($$"""{ "kind": "file", "stream": { "path": "{{_dir.File("rec.csv")}}" } }"""));
            Assert.Equal(new[] { "ax", "ay" }, file.Channels);
        }
        finally
        {
            Posix.Close(master);
        }
    }

    [Fact]
    public void Unknown_configuration_keys_are_rejected_by_the_json_reader()
    {
        var e = Assert.Throws<JsonException>(() => Parse("""{ "kind": "gpio", "gpio": { "chipp": "/dev/gpiochip0" } }"""));
        Assert.Contains("chipp", e.Message);
    }

    [Fact]
    public void Stats_snapshots_serialize_with_reason_names_for_diagnostics()
    {
        var stats = new EdgeAgent.Sensors.Sampling.SensorStats();
        stats.CountBad(EdgeAgent.Sensors.Sampling.BadSampleReason.Unparseable);
        stats.CountBad(EdgeAgent.Sensors.Sampling.BadSampleReason.Unparseable);
        string json = JsonSerializer.Serialize(stats.Snapshot(), SensorsJsonContext.Default.SensorStatsSnapshot);
        Assert.Equal(
            "{\"accepted\":0,\"bad\":{\"nonFinite\":0,\"wrongArity\":0,\"unparseable\":2,\"unknownChannel\":0,\"lineTooLong\":0,\"timeWentBackwards\":0}," +
            "\"dropped\":0,\"gaps\":0,\"lostEvents\":0,\"rejectedClients\":0,\"windows\":0,\"rateWarnings\":0," +
            "\"nominalRateHz\":null,\"observedRateHz\":null,\"rateOffNominal\":false}", json);
    }

    [Fact]
    public void Configuration_exception_message_lists_each_problem_on_its_own_line()
    {
        var e = new SensorConfigurationException(["sensors.a: x", "sensors.b: y"]);
        Assert.Equal($"invalid sensor configuration:{Environment.NewLine}  sensors.a: x{Environment.NewLine}  sensors.b: y", e.Message);
    }
}
