using System.Runtime.CompilerServices;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Iio;

/// <summary>
/// Polls IIO channels from sysfs at a fixed rate: value = (raw + offset) × scale per channel.
/// </summary>
/// <remarks>
/// <para>A poll whose raw value cannot be read or parsed is counted as
/// <see cref="BadSampleReason.Unparseable"/> and skipped; after
/// <see cref="IioSettings.MaxConsecutiveReadFailures"/> consecutive failures the device is considered gone
/// and the source fails with <see cref="SensorSourceException"/>.</para>
/// <para>Sample time is the poll time on the <see cref="TimeProvider"/>; polls follow an absolute schedule.
/// Prefers <see cref="SampleBackPressure.DropOldest"/>: a live sensor cannot wait.</para>
/// <para>Buffered capture through <c>/dev/iio:deviceN</c> (scan elements, hardware triggers) is not used;
/// sysfs polling suits rates up to a few hundred Hz.</para>
/// </remarks>
public sealed class IioSource : ISensorSource
{
    private readonly IioSettings _settings;
    private readonly TimeProvider _time;
    private readonly string _deviceDir;
    private int _started;

    /// <exception cref="SensorSourceException">The root, device or a channel does not exist.</exception>
    public IioSource(IioSettings settings, TimeProvider? time = null)
    {
        _settings = settings;
        _time = time ?? TimeProvider.System;
        _deviceDir = ResolveDevice(settings.SysfsRoot, settings.Device);
        // Open once here so a wrong channel is reported at start-up, then close; ReadAllAsync reopens.
        foreach (var channel in settings.Channels) IioChannel.Open(_deviceDir, channel).Dispose();
        Name = $"iio:{Path.GetFileName(_deviceDir)}";
    }

    public string Name { get; }
    public IReadOnlyList<string> Channels => _settings.Channels;
    public double? NominalRateHz => _settings.RateHz;
    public SampleBackPressure PreferredBackPressure => SampleBackPressure.DropOldest;
    public SensorStats Stats { get; } = new();

    /// <summary>Finds a device directory by directory name or by the content of its <c>name</c> attribute.</summary>
    public static string ResolveDevice(string sysfsRoot, string device)
    {
        if (!Directory.Exists(sysfsRoot))
            throw new SensorSourceException($"IIO sysfs root {sysfsRoot} does not exist (is the industrialio kernel module loaded?)");
        string direct = Path.Combine(sysfsRoot, device);
        if (Directory.Exists(direct)) return direct;
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(sysfsRoot).Order())
        {
            string nameFile = Path.Combine(dir, "name");
            string name = File.Exists(nameFile) ? File.ReadAllText(nameFile).Trim() : "";
            if (name == device) return dir;
            found.Add(name.Length > 0 ? $"{Path.GetFileName(dir)} ({name})" : Path.GetFileName(dir));
        }
        throw new SensorSourceException(
            $"no IIO device '{device}' under {sysfsRoot} (found: {(found.Count == 0 ? "none" : string.Join(", ", found))})");
    }

    public async IAsyncEnumerable<SensorSample> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException($"{Name}: ReadAllAsync may be enumerated only once");
        var channels = new IioChannel[_settings.Channels.Count];
        try
        {
            for (int i = 0; i < channels.Length; i++) channels[i] = IioChannel.Open(_deviceDir, _settings.Channels[i]);
            var values = new float[channels.Length];
            var scratch = new byte[64];
            long start = _time.GetTimestamp();
            int failures = 0;
            for (long i = 0; ; i++)
            {
                var wait = TimeSpan.FromSeconds(i / _settings.RateHz) - _time.GetElapsedTime(start);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (!ReadAll(channels, values, scratch))
                {
                    Stats.CountBad(BadSampleReason.Unparseable);
                    if (++failures >= _settings.MaxConsecutiveReadFailures)
                        throw new SensorSourceException(
                            $"{Name}: {failures} consecutive polls could not read the channels (last tried {string.Join(", ", channels.Select(c => c.RawPath))}); the device may be gone");
                    continue;
                }
                failures = 0;
                Stats.CountAccepted();
                yield return new SensorSample(SampleClock.NowNs(_time), _time.GetUtcNow(), values);
            }
        }
        finally
        {
            foreach (var c in channels) c?.Dispose();
        }
    }

    private static bool ReadAll(IioChannel[] channels, float[] values, byte[] scratch)
    {
        for (int i = 0; i < channels.Length; i++)
            if (!channels[i].TryRead(scratch, out values[i])) return false;
        return true;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
