using System.Globalization;

namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// The systemd service-manager variables that concern us, read once at start (man sd_watchdog_enabled).
/// </summary>
/// <param name="NotifySocket"><c>$NOTIFY_SOCKET</c>, or null.</param>
/// <param name="WatchdogInterval">From <c>$WATCHDOG_USEC</c> when the watchdog is meant for this process; otherwise null.</param>
public sealed record SystemdEnvironment(string? NotifySocket, TimeSpan? WatchdogInterval)
{
    /// <summary>Reads the variables.</summary>
    /// <param name="get">Variable lookup; defaults to the process environment.</param>
    /// <param name="processId">Our pid; defaults to <see cref="Environment.ProcessId"/>.</param>
    public static SystemdEnvironment Read(Func<string, string?>? get = null, int? processId = null)
    {
        get ??= Environment.GetEnvironmentVariable;
        return new(NullIfEmpty(get("NOTIFY_SOCKET")), ReadWatchdog(get, processId ?? Environment.ProcessId));
    }

    private static TimeSpan? ReadWatchdog(Func<string, string?> get, int pid)
    {
        // The watchdog applies when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names us: a child
        // that inherited the variables (a helper we spawn) must not feed our watchdog.
        string? usec = get("WATCHDOG_USEC");
        if (string.IsNullOrEmpty(usec) || !ulong.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out ulong us) || us == 0)
            return null;
        string? watchdogPid = get("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(watchdogPid)
            && (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p != pid))
            return null;
        return TimeSpan.FromMicroseconds(Math.Min(us, (ulong)TimeSpan.MaxValue.TotalMicroseconds / 2));
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
