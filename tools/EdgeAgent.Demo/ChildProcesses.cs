using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EdgeAgent.Demo;

/// <summary>
/// The demo's child processes (broker, hub, agents). Each runs under <c>setpriv --pdeathsig KILL</c>, so
/// the kernel kills it if the demo itself dies without cleaning up (SIGKILL, crash): no orphans in any
/// case. Output goes to one log file per process. <see cref="StopAllAsync"/> sends SIGTERM, waits,
/// then SIGKILLs stragglers, in reverse start order (agents before the hub before the broker).
/// Thread-safe.
/// </summary>
internal sealed partial class ChildProcesses(string logDirectory) : IAsyncDisposable
{
    private readonly List<(string Name, Process Process)> _children = [];
    private readonly Lock _lock = new();

    public string LogDirectory { get; } = logDirectory;

    public string LogOf(string name) => Path.Combine(LogDirectory, name + ".log");

    public Process Start(string name, string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(LogDirectory);
        var psi = new ProcessStartInfo("/usr/bin/setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["--pdeathsig", "KILL", "--", executable, .. args]) psi.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        var log = new StreamWriter(LogOf(name), append: true) { AutoFlush = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Exited += (_, _) => { lock (log) log.Flush(); };
        if (!Spawner.Run(process.Start)) throw new DemoException($"could not start {executable}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_lock) _children.Add((name, process));
        return process;
    }

    /// <summary>Runs a command to completion and returns its standard output; throws with its stderr when it fails.</summary>
    public static async Task<string> RunAsync(string executable, IEnumerable<string> args, CancellationToken ct, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new DemoException($"could not start {executable}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        if (p.ExitCode != 0)
            throw new DemoException($"{Path.GetFileName(executable)} {string.Join(' ', psi.ArgumentList)} failed (exit {p.ExitCode}): {(await stderr).Trim()}");
        return await stdout;
    }

    public bool IsRunning(string name)
    {
        lock (_lock) return _children.Any(c => c.Name == name && !c.Process.HasExited);
    }

    /// <summary>Stops one child (SIGTERM, then SIGKILL after <paramref name="grace"/>).</summary>
    public async Task StopAsync(string name, TimeSpan grace)
    {
        Process? p;
        lock (_lock) p = _children.LastOrDefault(c => c.Name == name).Process;
        if (p is not null) await StopAsync(p, grace);
    }

    public async Task StopAllAsync(TimeSpan grace)
    {
        List<(string Name, Process Process)> children;
        lock (_lock) children = [.. _children];
        children.Reverse();
        // Agents first (all at once), then the hub, then the broker: each stops while what it talks to is still up.
        foreach (var group in children.GroupBy(c => c.Name.StartsWith("agent-", StringComparison.Ordinal) ? 0 : c.Name == "edgehub" ? 1 : 2).OrderBy(g => g.Key))
            await Task.WhenAll(group.Select(c => StopAsync(c.Process, grace)));
    }

    private static async Task StopAsync(Process p, TimeSpan grace)
    {
        if (p.HasExited) return;
        // setpriv exec()s the program, so the pid is the program's own.
        _ = Kill(p.Id, 15);
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await p.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAllAsync(TimeSpan.FromSeconds(10));

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>
/// Starts processes from one thread that lives as long as the demo. The kernel's parent-death signal
/// (<c>setpriv --pdeathsig</c>, PR_SET_PDEATHSIG) fires when the forking THREAD exits, not the process: a
/// child forked from a thread-pool thread is killed when the pool retires that thread (the broker died
/// mid-demo that way).
/// </summary>
internal static class Spawner
{
    private static readonly System.Collections.Concurrent.BlockingCollection<(Func<bool> Start, TaskCompletionSource<bool> Done)> Queue = [];

    static Spawner()
    {
        var thread = new Thread(() =>
        {
            foreach (var (start, done) in Queue.GetConsumingEnumerable())
            {
                try { done.SetResult(start()); }
                catch (Exception e) { done.SetException(e); }
            }
        }) { IsBackground = true, Name = "demo-spawner" };
        thread.Start();
    }

    public static bool Run(Func<bool> start)
    {
        var done = new TaskCompletionSource<bool>();
        Queue.Add((start, done));
        return done.Task.GetAwaiter().GetResult();
    }
}

/// <summary>A demo step failed; the message says what and where the logs are.</summary>
internal sealed class DemoException(string message) : Exception(message);
