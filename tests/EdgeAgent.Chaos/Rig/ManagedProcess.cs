using System.Diagnostics;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Chaos.Rig;

/// <summary>
/// A long-running child process whose stdout/stderr go to a log file (appended across restarts, with
/// a header per start) so a failed scenario leaves the evidence behind. Kill is SIGKILL (no goodbye);
/// Terminate is SIGTERM with a bounded wait. Not thread-safe: one owner drives it.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly string _file;
    private readonly IReadOnlyList<string> _arguments;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly StreamWriter _log;
    // Volatile: watchers (the commit witness) read IsRunning while the owner restarts the process.
    // Earlier Process objects are kept until dispose so a concurrent reader never sees a disposed one.
    private volatile Process? _process;
    private readonly List<Process> _previous = [];
    private int _starts;

    public ManagedProcess(string file, IReadOnlyList<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        _file = file;
        _arguments = arguments;
        _environment = environment ?? new Dictionary<string, string>();
        LogPath = logPath;
        _log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    public string LogPath { get; }

    public int ProcessId => _process?.Id ?? 0;

    public bool IsRunning => _process is { HasExited: false };

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    public void Start()
    {
        if (IsRunning) throw new InvalidOperationException($"{Path.GetFileName(_file)} is already running (pid {ProcessId})");
        if (_process is { } old) _previous.Add(old);
        var info = new ProcessStartInfo(_file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in _arguments) info.ArgumentList.Add(a);
        foreach (var (k, v) in _environment) info.Environment[k] = v;
        var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {_file}");
        p.OutputDataReceived += (_, e) => Write(e.Data);
        p.ErrorDataReceived += (_, e) => Write(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        Write($"==== start #{++_starts}: pid {p.Id}: {_file} {string.Join(' ', _arguments)}");
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_log) _log.WriteLine(line);
    }

    /// <summary>SIGKILL and wait for the exit (no finally blocks, no flush in the child).</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } p) return;
        p.Kill(entireProcessTree: false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        Write($"==== SIGKILLed pid {p.Id}");
    }

    /// <summary>SIGTERM (graceful); SIGKILL after <paramref name="grace"/>. Returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? grace = null)
    {
        if (_process is not { } p) return 0;
        if (!p.HasExited)
        {
            ChildProcess.Signal(p.Id, "TERM");
            using var bound = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(30));
            try
            {
                await p.WaitForExitAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Write("==== did not stop after SIGTERM; SIGKILL");
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync().ConfigureAwait(false);
                return -1;
            }
        }
        Write($"==== exited with {p.ExitCode}");
        return p.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _previous.Append(_process))
        {
            if (p is null) continue;
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    await p.WaitForExitAsync().ConfigureAwait(false);
                }
            }
            catch (InvalidOperationException)
            {
                // Never started or already reaped.
            }
            p.Dispose();
        }
        lock (_log) _log.Dispose();
    }
}
