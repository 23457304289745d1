using EdgeAgent.Sensors.Gpio;
using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Gpio;

/// <summary>
/// Recorded line data through <see cref="IGpioLines"/>: event records travel through a real pipe and the
/// production poll/read path; levels come from a recorded sequence (what GET_VALUES returned).
/// </summary>
internal sealed class RecordedGpioLines(int eventFd, params ulong[] levels) : IGpioLines
{
    private readonly FileDescriptorReader _events = new(eventFd, ownsFd: true, "recorded GPIO events");
    private int _next;

    public int ValueReads => _next;

    public ulong ReadValues() => levels[Math.Min(_next++, levels.Length - 1)];

    public Task<int> ReadEventsAsync(Memory<byte> buffer, CancellationToken cancellationToken) => _events.ReadAsync(buffer, cancellationToken);

    public void Dispose() => _events.Dispose();
}

public sealed class GpioLineSourceTests
{
    private static readonly GpioSettings TwoLines = new() { Lines = [new(17, "door"), new(22, "button")], Mode = GpioMode.Edges };

    [Fact]
    public async Task Edge_events_become_samples_with_kernel_time_and_all_line_levels()
    {
        var (read, write) = Posix.Pipe();
        var lines = new RecordedGpioLines(read, 0b01, 0b10); // start: door high; resync after loss: button high
        await using var source = new GpioLineSource(TwoLines, _ => lines);
        Assert.Equal(new[] { "door", "button" }, source.Channels);
        Assert.Null(source.NominalRateHz);
        var reading = Task.Run(() => Collect.SamplesAsync(source));

        Posix.WriteAll(write, GpioEventDecoderTests.Record(
            new(1_000, GpioEdge.Falling, 17, 1, 1),
            new(2_000, GpioEdge.Rising, 22, 2, 1),
            new(5_000, GpioEdge.Falling, 22, 5, 4)));   // seqno 3 and 4 lost
        await Eventually.True(() => source.Stats.Accepted == 3 && lines.ValueReads == 2, "first batch and resync");
        Posix.WriteAll(write, GpioEventDecoderTests.Record(
            new(6_000, GpioEdge.Rising, 17, 6, 2),
            new(7_000, GpioEdge.Rising, 99, 7, 1)));    // an offset we did not request
        Posix.Close(write);
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(new long[] { 1_000, 2_000, 5_000, 6_000 }, samples.Select(s => s.TimeNs));
        Assert.Equal(new[] { new[] { 0f, 0f }, new[] { 0f, 1f }, new[] { 0f, 0f }, new[] { 1f, 1f } }, samples.Select(s => s.Values));
        Assert.Equal(2, source.Stats.LostEvents);
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.UnknownChannel));
    }

    [Fact]
    public async Task Levels_are_polled_at_the_configured_rate()
    {
        var (read, write) = Posix.Pipe();
        var lines = new RecordedGpioLines(read, 0b00, 0b01, 0b11);
        var time = new ManualTimeProvider();
        await using var source = new GpioLineSource(TwoLines with { Mode = GpioMode.Levels, PollRateHz = 20 }, _ => lines, time);
        Assert.Equal(20, source.NominalRateHz);
        var reading = Collect.SamplesAsync(source, max: 3);
        for (int i = 1; i < 3; i++)
        {
            int n = i;
            await Eventually.True(() => source.Stats.Accepted == n && time.ArmedTimers == 1, $"poll {n}");
            time.Advance(TimeSpan.FromMilliseconds(50));
        }
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(20));
        Posix.Close(write);
        Assert.Equal(new[] { new[] { 0f, 0f }, new[] { 1f, 0f }, new[] { 1f, 1f } }, samples.Select(s => s.Values));
        Assert.Equal(new long[] { 0, 50_000_000, 100_000_000 }, samples.Select(s => s.TimeNs - samples[0].TimeNs));
    }

    [Fact]
    public async Task Without_a_gpio_chip_the_kernel_source_fails_with_a_clear_message()
    {
        await using var source = new GpioLineSource(TwoLines with { Chip = "/dev/gpiochip-edgeagent-absent" });
        var e = await Assert.ThrowsAsync<GpioUnavailableException>(() => Collect.SamplesAsync(source));
        Assert.StartsWith("sensors.gpio.chip: /dev/gpiochip-edgeagent-absent does not exist (", e.Message);
        if (Directory.GetFiles("/dev", "gpiochip*").Length == 0)
            Assert.Contains("this machine has no GPIO character devices (/dev/gpiochip*)", e.Message);
    }

    [Fact]
    public async Task A_device_that_is_not_a_gpio_chip_is_named_in_the_error()
    {
        await using var source = new GpioLineSource(TwoLines with { Chip = "/dev/null" });
        var e = await Assert.ThrowsAsync<GpioUnavailableException>(() => Collect.SamplesAsync(source));
        Assert.StartsWith("/dev/null: GPIO_GET_CHIPINFO_IOCTL failed:", e.Message);
        Assert.EndsWith("the device is not a GPIO chip", e.Message);
    }

    [Fact]
    public void Invalid_line_settings_list_every_problem()
    {
        var settings = new GpioSettings { Lines = [new(3), new(3), new(4, "line3")], Mode = GpioMode.Levels, PollRateHz = 0 };
        var problems = settings.Validate();
        Assert.Contains("sensors.gpio.lines: offset(s) 3 requested twice", problems);
        Assert.Contains("sensors.gpio.lines: channel name(s) line3 used twice", problems);
        Assert.Contains("sensors.gpio.pollRateHz: must be in (0, 10000] (is 0)", problems);
        Assert.Contains("sensors.gpio.lines: at least one line offset is required", new GpioSettings().Validate());
    }
}
