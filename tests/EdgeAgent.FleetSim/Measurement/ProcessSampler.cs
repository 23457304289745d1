using System.Globalization;

namespace EdgeAgent.FleetSim.Measurement;

/// <summary>CPU and memory of one process as seen in <c>/proc</c>, sampled over a run.</summary>
/// <param name="CpuPercentMean">Mean CPU over the measured window, in % of one core (200 % = both cores of this machine).</param>
/// <param name="CpuPercentPeak">Highest one-interval CPU in the window.</param>
/// <param name="RssMbPeak">Highest resident set in MiB.</param>
/// <param name="RssMbEnd">Resident set at the end of the window.</param>
public sealed record ProcessUsage(string Name, int Pid, double CpuPercentMean, double CpuPercentPeak, double RssMbPeak, double RssMbEnd);

/// <summary>
/// Samples <c>/proc/PID/stat</c> (utime + stime) and <c>/proc/PID/status</c> (VmRSS) of named processes once per
/// interval. <see cref="MarkWindowStart"/>/<see cref="MarkWindowEnd"/> bound the steady-state window the means are
/// taken over (start-up and drain are excluded). Thread-safe.
/// </summary>
public sealed class ProcessSampler : IAsyncDisposable
{
    private readonly Dictionary<string, int> _pids;
    private readonly Dictionary<string, Track> _tracks = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _gate = new();
    private readonly double _ticksPerSecond;
    private bool _inWindow;

    private sealed class Track
    {
        public long StartTicks = -1, LastTicks = -1, EndTicks = -1;
        public DateTime StartAt, LastAt, EndAt;
        public double PeakCpu, PeakRss, LastRss;
    }

    public ProcessSampler(IReadOnlyDictionary<string, int> pids, TimeSpan interval)
    {
        _pids = new Dictionary<string, int>(pids);
        _ticksPerSecond = ClockTicksPerSecond();
        foreach (var name in _pids.Keys) _tracks[name] = new Track();
        _loop = LoopAsync(interval, _stop.Token);
    }

    public void MarkWindowStart()
    {
        lock (_gate)
        {
            _inWindow = true;
            foreach (var (name, pid) in _pids)
            {
                var t = _tracks[name];
                t.StartTicks = t.LastTicks = CpuTicks(pid);
                t.StartAt = t.LastAt = DateTime.UtcNow;
            }
        }
    }

    public void MarkWindowEnd()
    {
        lock (_gate)
        {
            _inWindow = false;
            foreach (var (name, pid) in _pids)
            {
                var t = _tracks[name];
                t.EndTicks = CpuTicks(pid);
                t.EndAt = DateTime.UtcNow;
                t.LastRss = RssMb(pid) is var r && r > 0 ? r : t.LastRss;
            }
        }
    }

    public IReadOnlyList<ProcessUsage> Results()
    {
        lock (_gate)
        {
            return _pids.Select(p =>
            {
                var t = _tracks[p.Key];
                double seconds = (t.EndAt - t.StartAt).TotalSeconds;
                double mean = seconds > 0 && t.EndTicks >= 0 ? (t.EndTicks - t.StartTicks) / _ticksPerSecond / seconds * 100 : 0;
                return new ProcessUsage(p.Key, p.Value, Math.Round(mean, 1), Math.Round(t.PeakCpu, 1), Math.Round(t.PeakRss, 1), Math.Round(t.LastRss, 1));
            }).ToList();
        }
    }

    private async Task LoopAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    foreach (var (name, pid) in _pids)
                    {
                        var t = _tracks[name];
                        double rss = RssMb(pid);
                        if (rss > 0) t.LastRss = rss;
                        if (!_inWindow) continue;
                        t.PeakRss = Math.Max(t.PeakRss, rss);
                        long ticks = CpuTicks(pid);
                        var now = DateTime.UtcNow;
                        if (ticks >= 0 && t.LastTicks >= 0)
                        {
                            double s = (now - t.LastAt).TotalSeconds;
                            if (s > 0) t.PeakCpu = Math.Max(t.PeakCpu, (ticks - t.LastTicks) / _ticksPerSecond / s * 100);
                        }
                        t.LastTicks = ticks;
                        t.LastAt = now;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>utime + stime in clock ticks; -1 when the process is gone.</summary>
    public static long CpuTicks(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may contain spaces; fields after the closing ')' are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    /// <summary>VmRSS in MiB; 0 when the process is gone.</summary>
    public static double RssMb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    /// <summary>The 1-minute load average (the machine is shared: figures are read next to it).</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    private static double ClockTicksPerSecond()
    {
        // USER_HZ is 100 on every Linux ABI .NET runs on; getconf confirms it when present.
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false });
            if (p is not null && double.TryParse(p.StandardOutput.ReadToEnd().Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double hz) && hz > 0) return hz;
        }
        catch (System.ComponentModel.Win32Exception) { }
        return 100;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
