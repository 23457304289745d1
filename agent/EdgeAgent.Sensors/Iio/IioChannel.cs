using System.Globalization;
using Microsoft.Win32.SafeHandles;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Iio;

/// <summary>
/// One IIO channel: its <c>in_X_raw</c> attribute kept open, plus scale and offset read once at open
/// (Linux ABI, Documentation/ABI/testing/sysfs-bus-iio: value in SI-ish units = (raw + offset) × scale).
/// </summary>
/// <remarks>Scale and offset come from the channel's own attribute (<c>in_accel_x_scale</c>) or the
/// attribute shared by its type (<c>in_accel_scale</c>); absent means scale 1, offset 0.</remarks>
internal sealed class IioChannel : IDisposable
{
    private readonly SafeFileHandle _raw;

    private IioChannel(string name, string rawPath, SafeFileHandle raw, double scale, double offset)
    {
        Name = name;
        RawPath = rawPath;
        _raw = raw;
        Scale = scale;
        Offset = offset;
    }

    public string Name { get; }
    public string RawPath { get; }
    public double Scale { get; }
    public double Offset { get; }

    public static IioChannel Open(string deviceDir, string channel)
    {
        string attr = channel.StartsWith("in_", StringComparison.Ordinal) ? channel : "in_" + channel;
        if (attr.EndsWith("_raw", StringComparison.Ordinal)) attr = attr[..^4];
        string rawPath = Path.Combine(deviceDir, attr + "_raw");
        if (!File.Exists(rawPath))
        {
            var available = Directory.EnumerateFiles(deviceDir, "in_*_raw").Select(p => Path.GetFileName(p)[3..^4]).Order().ToArray();
            throw new SensorSourceException(
                $"IIO channel '{channel}': {rawPath} does not exist (channels of this device: {(available.Length == 0 ? "none" : string.Join(", ", available))})");
        }
        string typeAttr = TypeOf(attr);
        double scale = ReadNumber(deviceDir, attr + "_scale", typeAttr + "_scale") ?? 1.0;
        double offset = ReadNumber(deviceDir, attr + "_offset", typeAttr + "_offset") ?? 0.0;
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(rawPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SensorSourceException($"IIO channel '{channel}': {rawPath} cannot be opened: {e.Message}", e);
        }
        return new IioChannel(channel, rawPath, handle, scale, offset);
    }

    /// <summary>Reads raw and converts; false when the attribute cannot be read or parsed.</summary>
    /// <remarks>sysfs attributes are re-read with a positional read at offset 0 on the open handle.</remarks>
    public bool TryRead(Span<byte> scratch, out float value)
    {
        value = 0;
        int n;
        try
        {
            n = RandomAccess.Read(_raw, scratch, 0);
        }
        catch (IOException)
        {
            return false;
        }
        var text = scratch[..n].TrimEnd((byte)'\n').Trim((byte)' ');
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double raw)) return false;
        value = (float)((raw + Offset) * Scale);
        return true;
    }

    public void Dispose() => _raw.Dispose();

    // IIO names are in_<type>[<index>][_<modifier>]: in_accel_x → in_accel, in_voltage0 → in_voltage.
    private static string TypeOf(string attr)
    {
        int end = 3;
        while (end < attr.Length && char.IsAsciiLetter(attr[end])) end++;
        return attr[..end];
    }

    private static double? ReadNumber(string dir, params string[] names)
    {
        foreach (var name in names)
        {
            string path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            string text = File.ReadAllText(path).Trim();
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return v;
            throw new SensorSourceException($"IIO attribute {path} holds '{text}', which is not a number");
        }
        return null;
    }
}
