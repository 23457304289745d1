using System.Globalization;

namespace EdgeAgent.Hub.CloudTier.Bench;

/// <summary>CPU seconds (user + system) of this process and of another one (Linux /proc), to show where the work goes.</summary>
internal static class ProcessCpu
{
    public static double Self() => System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    public static double Seconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of stat (utime, stime) in clock ticks of 1/100 s.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
