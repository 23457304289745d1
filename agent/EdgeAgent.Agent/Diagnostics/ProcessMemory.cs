using System.Globalization;

namespace EdgeAgent.Agent.Diagnostics;

/// <summary>Resident memory of this process from <c>/proc/self/status</c> (Linux), in bytes; 0 where unavailable.</summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set size (VmRSS).</summary>
    public static long ResidentBytes() => Read("VmRSS:");

    /// <summary>Peak resident set size since start (VmHWM).</summary>
    public static long PeakResidentBytes() => Read("VmHWM:");

    private static long Read(string key)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
                string kb = line[key.Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }
}
