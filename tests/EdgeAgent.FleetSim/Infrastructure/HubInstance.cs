using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace EdgeAgent.FleetSim.Infrastructure;

/// <summary>
/// One <c>edgehub serve</c> as its own process (so its CPU and memory are its own in <c>/proc</c>), started from
/// the <c>edgehub.dll</c> copied next to this program. Output goes to <c>hub-N.log</c> in the run directory.
/// Ready when <c>/healthz</c> reports the MQTT consumer connected.
/// </summary>
public sealed class HubInstance : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private int _reconnects;

    private HubInstance(Process process, StreamWriter log, string clientId, Uri baseAddress)
    {
        _process = process;
        _log = log;
        ClientId = clientId;
        BaseAddress = baseAddress;
    }

    public string ClientId { get; }
    public Uri BaseAddress { get; }
    public int ProcessId => _process.Id;

    /// <param name="store">The hub's <c>--store</c> (sqlite:… or postgres:…).</param>
    public static async Task<HubInstance> StartAsync(int index, string store, string brokerHost, int brokerPort, string runDirectory,
        IReadOnlyList<string> extraArguments, CancellationToken cancellationToken)
    {
        string dll = HubDll();
        int port = FreePort();
        string clientId = $"edgehub-{index}";
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])[dll, "serve", "--store", store, "--urls", $"http://127.0.0.1:{port}", "--mqtt", $"{brokerHost}:{brokerPort}",
                     "--mqtt-client-id", clientId, "--share-group", "hub", "--cloud-inference", "false", "--retention-days", "0", .. extraArguments])
            info.ArgumentList.Add(a);
        // Per-message information logs would measure the console, not the hub.
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        // Connection state changes of the hub's MQTT consumer are information-level and matter here.
        info.Environment["Logging__LogLevel__EdgeAgent.Hub.Ingestion"] = "Information";
        var log = new StreamWriter(Path.Combine(runDirectory, $"hub-{index}.log")) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException("edgehub did not start");
        var hub = new HubInstance(process, log, clientId, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => hub.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => hub.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await hub.WaitHealthyAsync(TimeSpan.FromSeconds(90), cancellationToken).ConfigureAwait(false);
            return hub;
        }
        catch
        {
            await hub.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs an <c>edgehub</c> command (e.g. <c>keys init</c>, <c>tokens create</c>) to its end; returns its standard output.</summary>
    /// <exception cref="InvalidOperationException">The command failed; the message carries its error output.</exception>
    public static async Task<string> RunCommandAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var r = await TestSupport.Mosquitto.ChildProcess.RunAsync("dotnet", [HubDll(), .. arguments], timeout: TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"edgehub {string.Join(' ', arguments)} exited with {r.ExitCode}: {r.StandardError.Trim()}");
        return r.StandardOutput;
    }

    private static string HubDll()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is missing: build tests/EdgeAgent.FleetSim (it references the hub project)", dll);
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        if (line.Contains("MQTT Reconnecting", StringComparison.Ordinal)) Interlocked.Increment(ref _reconnects);
        lock (_log) _log.WriteLine(line);
    }

    /// <summary>How often the hub's MQTT consumer logged that it is reconnecting (its connection dropped).</summary>
    public int MqttReconnects => Volatile.Read(ref _reconnects);

    private async Task WaitHealthyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"edgehub {ClientId} exited with code {_process.ExitCode} at start-up (see hub log)");
            try
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("healthz", UriKind.Relative), ct).ConfigureAwait(false));
                last = doc.RootElement.GetRawText();
                if (doc.RootElement.TryGetProperty("mqtt", out var m) && m.GetString() == "Connected") return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
        throw new TimeoutException($"edgehub {ClientId} not healthy within {timeout.TotalSeconds} s; last /healthz: {last}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: the host stops gracefully (MQTT DISCONNECT, store closed).
            TestSupport.Mosquitto.ChildProcess.Signal(_process.Id, "TERM");
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}
