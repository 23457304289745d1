using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeAgent.FleetSim.Devices;

namespace EdgeAgent.FleetSim.Infrastructure;

/// <summary>
/// A worker process running a slice of the fleet (<c>dotnet EdgeAgent.FleetSim.dll worker …</c>), driven by the
/// line protocol of <see cref="DeviceWorker"/>. Its stderr goes to <c>worker-FIRST.log</c>.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly string _reportPath;

    private WorkerProcess(Process process, StreamWriter log, string reportPath, int first, int count)
    {
        _process = process;
        _log = log;
        _reportPath = reportPath;
        First = first;
        Count = count;
    }

    public int First { get; }
    public int Count { get; }
    public int ProcessId => _process.Id;
    public double ConnectSeconds { get; private set; }

    public static WorkerProcess Start(WorkerSettings s, string runDirectory)
    {
        string dll = typeof(WorkerProcess).Assembly.Location;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var inv = CultureInfo.InvariantCulture;
        foreach (var a in (string[])[dll, "worker", "--first", s.First.ToString(inv), "--count", s.Count.ToString(inv),
                     "--broker", $"{s.BrokerHost}:{s.BrokerPort}", "--state", s.StateRoot, "--report", s.ReportPath,
                     "--rate", s.SampleRateHz.ToString(inv), "--drift-interval", s.DriftSnapshotInterval.TotalSeconds.ToString(inv),
                     "--connect-parallelism", s.ConnectParallelism.ToString(inv), .. s.EnginePerDevice ? (string[])["--engine-per-device"] : []])
            info.ArgumentList.Add(a);
        if (s.Updates is { } u)
        {
            foreach (var a in (string[])["--hub-url", u.HubBaseUrl.ToString(), "--trusted-root", u.TrustedRootPath,
                         "--observe-window", u.ObserveWindow.TotalSeconds.ToString(inv), "--observe-min-calls", u.ObserveMinCalls.ToString(inv),
                         "--poll-interval", u.PollInterval.TotalSeconds.ToString(inv)])
                info.ArgumentList.Add(a);
        }
        var log = new StreamWriter(Path.Combine(runDirectory, $"worker-{s.First}.log")) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException("worker did not start");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        return new WorkerProcess(process, log, s.ReportPath, s.First, s.Count);
    }

    /// <summary>Waits for the worker's <paramref name="expected"/> reply line (its first word), returning the line.</summary>
    public async Task<string> ExpectAsync(string expected, TimeSpan timeout, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(timeout);
        while (true)
        {
            string? line;
            try { line = await _process.StandardOutput.ReadLineAsync(bound.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"worker {First} did not say {expected} within {timeout.TotalSeconds} s (see worker-{First}.log)");
            }
            if (line is null) throw new InvalidOperationException($"worker {First} ended before saying {expected} (see worker-{First}.log)");
            if (line.StartsWith(expected, StringComparison.Ordinal))
            {
                if (expected == "READY") ConnectSeconds = double.Parse(line.Split(' ')[2], CultureInfo.InvariantCulture);
                return line;
            }
            lock (_log) _log.WriteLine("stdout: " + line);
        }
    }

    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    public async Task<WorkerReport> ReadReportAsync()
    {
        await using var f = File.OpenRead(_reportPath);
        return await JsonSerializer.DeserializeAsync(f, WorkerJsonContext.Default.WorkerReport).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{_reportPath} is empty");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.StandardInput.Close(); } catch (IOException) { }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}
