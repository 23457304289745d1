using System.Diagnostics;
using System.Text.Json.Nodes;

namespace EdgeAgent.Hub.Dashboard.Tests.Browser;

/// <summary>
/// Debian's <c>/usr/bin/chromium</c>, headless, driven through the DevTools Protocol. Started through
/// <c>setsid</c> so the browser and its helper processes (zygote, renderers, GPU/utility) share one new
/// process group that <see cref="DisposeAsync"/> kills as a whole, also when a test failed half-way;
/// a process-exit hook covers a test host that dies without disposing.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;
    private readonly EventHandler _exitHook;
    private int _disposed;

    private HeadlessChromium(Process process, string profile, CdpConnection cdp)
    {
        _process = process;
        _profile = profile;
        Cdp = cdp;
        _exitHook = (_, _) => KillGroup();
        AppDomain.CurrentDomain.ProcessExit += _exitHook;
    }

    public CdpConnection Cdp { get; }

    public static async Task<HeadlessChromium> LaunchAsync(CancellationToken ct = default)
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is missing: install chromium (./build.sh prereqs)");
        var profile = Directory.CreateTempSubdirectory("edgehub-chromium-").FullName;
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     ExecutablePath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
                     "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--window-size=1360,900",
                     "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", $"--user-data-dir={profile}", "about:blank",
                 })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start chromium");
        // Drain its output so a chatty browser never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var portFile = Path.Combine(profile, "DevToolsActivePort");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string[] lines = [];
            while (lines.Length < 2)
            {
                if (process.HasExited)
                    throw new InvalidOperationException($"chromium exited with {process.ExitCode} before opening its DevTools port: {stderr}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"chromium wrote no {portFile} within 30 s: {stderr}");
                await Task.Delay(50, ct);
                if (File.Exists(portFile)) lines = (await File.ReadAllTextAsync(portFile, ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
            var cdp = await CdpConnection.ConnectAsync(new Uri($"ws://127.0.0.1:{lines[0].Trim()}{lines[1].Trim()}"), ct);
            return new HeadlessChromium(process, profile, cdp);
        }
        catch
        {
            KillGroup(process);
            process.Dispose();
            TryDelete(profile);
            throw;
        }
    }

    /// <summary>Opens a new tab (its own sessionStorage) with console and exception capture enabled.</summary>
    public async Task<BrowserPage> NewPageAsync(CancellationToken ct = default)
    {
        var target = await Cdp.SendAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, ct: ct);
        var targetId = target.GetProperty("targetId").GetString()!;
        var attached = await Cdp.SendAsync("Target.attachToTarget", new JsonObject { ["targetId"] = targetId, ["flatten"] = true }, ct: ct);
        var page = new BrowserPage(Cdp, targetId, attached.GetProperty("sessionId").GetString()!);
        await page.EnableAsync(ct);
        return page;
    }

    private void KillGroup() => KillGroup(_process);

    private static void KillGroup(Process process)
    {
        try
        {
            // setsid made chromium a process-group leader: its pid is the group id. Killed even when the
            // leader already exited, because helpers it left behind keep the group alive.
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-KILL", "--", $"-{process.Id}"]) { UseShellExecute = false, RedirectStandardError = true });
            kill?.WaitForExit(5000);
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        AppDomain.CurrentDomain.ProcessExit -= _exitHook;
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await Cdp.SendAsync("Browser.close", ct: quick.Token);
        }
        catch (Exception e) when (e is CdpException or IOException or TimeoutException or OperationCanceledException or System.Net.WebSockets.WebSocketException)
        {
            // Killed below either way.
        }
        await Cdp.DisposeAsync();
        KillGroup();
        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).ContinueWith(_ => { }, TaskScheduler.Default);
        _process.Dispose();
        TryDelete(_profile);
    }
}
