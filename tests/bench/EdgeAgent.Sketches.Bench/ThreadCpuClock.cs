using System.Runtime.InteropServices;

namespace EdgeAgent.Sketches.Bench;

/// <summary>
/// CPU time consumed by the calling thread (Linux CLOCK_THREAD_CPUTIME_ID). On a shared, overloaded machine
/// wall-clock time mostly measures waiting for a core; thread CPU time measures the work itself.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out Timespec time);

    /// <summary>Whether the clock works here (Linux only).</summary>
    public static bool IsAvailable { get; } = OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out _) == 0;

    /// <summary>Thread CPU time in nanoseconds.</summary>
    public static double NowNanoseconds()
    {
        if (ClockGetTime(ClockThreadCpuTimeId, out var t) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }

        return (t.Seconds * 1e9) + t.Nanoseconds;
    }
}
