using EdgeAgent.Sensors.Iio;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Iio;

/// <summary>IIO against a directory tree laid out like /sys/bus/iio/devices (real files, real reads).</summary>
public sealed class IioSourceTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private string Device(string dir, string name, params (string File, string Content)[] attributes)
    {
        string path = Path.Combine(_root.Path, dir);
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "name"), name + "\n");
        foreach (var (file, content) in attributes) File.WriteAllText(Path.Combine(path, file), content);
        return path;
    }

    [Fact]
    public async Task Values_are_raw_plus_offset_times_scale_with_shared_and_per_channel_attributes()
    {
        string dev = Device("iio:device1", "lsm6dsl_accel",
            ("in_accel_x_raw", "100\n"), ("in_accel_y_raw", "-200\n"), ("in_accel_z_raw", "16384\n"),
            ("in_accel_scale", "0.000598\n"),      // shared by x, y, z
            ("in_accel_z_offset", "-16\n"),         // z only
            ("in_temp_raw", "3000\n"), ("in_temp_scale", "0.5"), ("in_temp_offset", "100"));
        Device("iio:device0", "bmp280");
        var time = new ManualTimeProvider();
        var settings = new IioSettings { SysfsRoot = _root.Path, Device = "lsm6dsl_accel", Channels = ["accel_x", "accel_y", "accel_z", "temp"], RateHz = 10 };
        await using var source = new IioSource(settings, time);
        Assert.Equal("iio:iio:device1", source.Name);
        var reading = Collect.SamplesAsync(source, max: 2);
        await Eventually.True(() => source.Stats.Accepted == 1 && time.ArmedTimers == 1, "first poll");
        File.WriteAllText(Path.Combine(dev, "in_accel_x_raw"), "-50\n"); // the sensor moved
        time.Advance(TimeSpan.FromMilliseconds(100));
        var samples = await reading.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((float)(100 * 0.000598), samples[0].Values[0]);
        Assert.Equal((float)(-200 * 0.000598), samples[0].Values[1]);
        Assert.Equal((float)((16384 - 16) * 0.000598), samples[0].Values[2]);
        Assert.Equal((float)((3000 + 100) * 0.5), samples[0].Values[3]);
        Assert.Equal((float)(-50 * 0.000598), samples[1].Values[0]);
        Assert.Equal(100_000_000, samples[1].TimeNs - samples[0].TimeNs);
        Assert.Equal(SampleBackPressure.DropOldest, source.PreferredBackPressure);
    }

    [Fact]
    public async Task Unreadable_raw_values_are_counted_and_skipped_and_a_dead_device_fails_clearly()
    {
        string dev = Device("iio:device0", "adc", ("in_voltage0_raw", "12\n"));
        var time = new ManualTimeProvider();
        await using var source = new IioSource(new IioSettings
        {
            SysfsRoot = _root.Path, Device = "iio:device0", Channels = ["voltage0"], RateHz = 1, MaxConsecutiveReadFailures = 3,
        }, time);
        var reading = Task.Run(() => Collect.SamplesAsync(source));
        await Eventually.True(() => source.Stats.Accepted == 1 && time.ArmedTimers == 1, "first poll");
        File.WriteAllText(Path.Combine(dev, "in_voltage0_raw"), "garbage\n");
        for (int i = 0; i < 3; i++)
        {
            int expected = i;
            await Eventually.True(() => source.Stats.Bad(BadSampleReason.Unparseable) == expected && time.ArmedTimers == 1, $"poll {i + 2} waiting");
            time.Advance(TimeSpan.FromSeconds(1));
        }
        var e = await Assert.ThrowsAsync<SensorSourceException>(() => reading.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.StartsWith("iio:iio:device0: 3 consecutive polls could not read the channels", e.Message);
        Assert.Equal(3, source.Stats.Bad(BadSampleReason.Unparseable));
    }

    [Fact]
    public void Missing_devices_and_channels_are_reported_with_what_exists()
    {
        Device("iio:device0", "bmp280", ("in_pressure_raw", "1"), ("in_temp_raw", "2"));
        var e1 = Assert.Throws<SensorSourceException>(() =>
            new IioSource(new IioSettings { SysfsRoot = _root.Path, Device = "lsm6dsl", Channels = ["accel_x"] }));
        Assert.Equal($"no IIO device 'lsm6dsl' under {_root.Path} (found: iio:device0 (bmp280))", e1.Message);
        var e2 = Assert.Throws<SensorSourceException>(() =>
            new IioSource(new IioSettings { SysfsRoot = _root.Path, Device = "bmp280", Channels = ["humidityrelative"] }));
        Assert.Equal($"IIO channel 'humidityrelative': {_root.Path}/iio:device0/in_humidityrelative_raw does not exist (channels of this device: pressure, temp)", e2.Message);
        var e3 = Assert.Throws<SensorSourceException>(() =>
            new IioSource(new IioSettings { SysfsRoot = _root.File("nope"), Device = "x", Channels = ["a"] }));
        Assert.Equal($"IIO sysfs root {_root.File("nope")} does not exist (is the industrialio kernel module loaded?)", e3.Message);
    }
}
