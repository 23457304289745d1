using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

/// <summary>
/// Agent start-to-READY and RSS (docs/bench/hosting.md, "Agent start and memory"): for each agent executable
/// given (the JIT build and the trimmed self-contained publish), install the CNN INT8 model with that binary,
/// start <c>edgeagent run</c> with a real NOTIFY_SOCKET (offline: no broker), and measure the time from process
/// start to the <c>READY=1</c> datagram, VmRSS at READY and after 10 s of serving (synthetic sensor at 400 Hz),
/// then SIGTERM. Baseline in the same run: <c>edgeagent --version</c> with the same binary (runtime start and
/// command-line parsing, no host, no model) — what the agent's own start-up adds on top of a bare process.
/// </summary>
internal static class StartupBench
{
    public static async Task RunAsync(string[] agents, int rounds)
    {
        Console.WriteLine("| binary | round | `--version` (baseline) ms | start → READY=1 ms | RSS at READY MiB | RSS after 10 s MiB |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (string agent in agents)
        {
            string dir = Directory.CreateTempSubdirectory("edgeagent-startbench-").FullName;
            try
            {
                Prepare(agent, dir);
                for (int round = 1; round <= rounds; round++)
                {
                    double baseline = TimeToExit(agent, "--version");
                    var (ready, rssReady, rssLater) = await StartToReadyAsync(agent, dir);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {Label(agent)} | {round} | {baseline:0} | {ready:0} | {rssReady / 1024.0:0.0} | {rssLater / 1024.0:0.0} |"));
                }
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static string Label(string agent) => agent.Contains("publish", StringComparison.Ordinal) ? "trimmed self-contained" : "JIT (framework-dependent)";

    private static void Prepare(string agent, string dir)
    {
        Run(agent, "make-model", "--kind", "cnn", "--output", Path.Combine(dir, "cnn.onnx"));
        Run(agent, "bundle", "build", "--model", Path.Combine(dir, "cnn.onnx"), "--name", "activity", "--version", "1.0.0",
            "--release-counter", "1", "--hardware-id", "x64-dev", "--labels", "idle,walk,run,vibration_fault",
            "--window-length", "128", "--window-stride", "64", "--channels", "3", "--sample-rate", "50", "--output", Path.Combine(dir, "a.bundle"));
        Run(agent, "bundle", "install", Path.Combine(dir, "a.bundle"), "--models-dir", Path.Combine(dir, "state", "models"), "--hardware-id", "x64-dev");
        Directory.CreateDirectory(Path.Combine(dir, "run"));
        int dead;
        using (var probe = new TcpListener(System.Net.IPAddress.Loopback, 0)) { probe.Start(); dead = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port; }
        File.WriteAllText(Path.Combine(dir, "agent.json"), $$"""
            {
              "deviceId": "bench-1",
              "stateDirectory": "{{dir}}/state",
              "runtimeDirectory": "{{dir}}/run",
              "mqtt": { "host": "127.0.0.1", "port": {{dead}}, "useTls": false },
              "metrics": { "enabled": false },
              "sensors": { "kind": "synthetic", "synthetic": { "seed": 3, "rateHz": 400 } }
            }
            """);
    }

    private static void Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed: {err}");
    }

    private static double TimeToExit(string exe, string arg)
    {
        var psi = new ProcessStartInfo(exe, arg) { RedirectStandardOutput = true };
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static async Task<(double ReadyMs, long RssReadyKb, long RssLaterKb)> StartToReadyAsync(string agent, string dir)
    {
        string socketPath = Path.Combine(dir, "notify.sock");
        File.Delete(socketPath);
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var psi = new ProcessStartInfo(agent) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "run", "--config", Path.Combine(dir, "agent.json") }) psi.ArgumentList.Add(a);
        psi.Environment["NOTIFY_SOCKET"] = socketPath;
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        double readyMs;
        while (true)
        {
            int n = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (Encoding.UTF8.GetString(buffer, 0, n).Contains("READY=1", StringComparison.Ordinal)) { readyMs = sw.Elapsed.TotalMilliseconds; break; }
        }
        long rssReady = Rss(p.Id);
        await Task.Delay(TimeSpan.FromSeconds(10));
        long rssLater = Rss(p.Id);
        Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!p.WaitForExit(30_000)) p.Kill(entireProcessTree: true);
        return (readyMs, rssReady, rssLater);
    }

    private static long Rss(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return 0;
    }
}
