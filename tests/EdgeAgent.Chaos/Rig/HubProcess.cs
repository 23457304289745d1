using System.Net;
using System.Net.Sockets;

namespace EdgeAgent.Chaos.Rig;

/// <summary>
/// A real <c>edgehub serve</c> (SQLite store, persistent MQTT session to the broker, cloud tier off)
/// as a child process, restartable on the same port and store. Output goes to <c>hub.log</c>.
/// </summary>
public sealed class HubProcess : IAsyncDisposable
{
    private readonly ManagedProcess _process;
    private readonly HttpClient _http;

    private HubProcess(string storePath, int port, ManagedProcess process)
    {
        StorePath = storePath;
        Port = port;
        _process = process;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(5) };
    }

    public string StorePath { get; }
    public int Port { get; }
    public bool IsRunning => _process.IsRunning;

    public Uri BaseUri => _http.BaseAddress!;

    /// <summary>The SQLite store of a hub whose files live in <paramref name="directory"/> (for CLI calls before it starts).</summary>
    public static string StoreIn(string directory) => Path.Combine(directory, "hub.db");

    /// <summary>
    /// Starts a hub on a free port with its store in <paramref name="directory"/>; returns once /healthz answers.
    /// <paramref name="extraArguments"/> are appended to <c>serve</c> (e.g. <c>--trust-dir</c> for release serving).
    /// </summary>
    public static async Task<HubProcess> StartAsync(string directory, int brokerPort, CancellationToken ct, IReadOnlyList<string>? extraArguments = null)
    {
        Directory.CreateDirectory(directory);
        string store = StoreIn(directory);
        int port = FreePort();
        // Retention off: clock-jump scenarios send events dated far in the past; the check is about transport.
        var process = new ManagedProcess("dotnet", [RepoLayout.HubDll, "serve", "--store", "sqlite:" + store, "--urls", $"http://127.0.0.1:{port}",
            "--mqtt", $"127.0.0.1:{brokerPort}", "--mqtt-client-id", "chaos-hub", "--retention-days", "0", "--cloud-inference", "false", .. extraArguments ?? []],
            Path.Combine(directory, "hub.log"));
        var hub = new HubProcess(store, port, process);
        await hub.StartAgainAsync(ct).ConfigureAwait(false);
        return hub;
    }

    /// <summary>Starts (again) on the same port and store; returns once /healthz answers.</summary>
    public async Task StartAgainAsync(CancellationToken ct)
    {
        _process.Start();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (!_process.IsRunning) throw new InvalidOperationException($"edgehub exited with {_process.ExitCode} at start-up; see {_process.LogPath}");
            try
            {
                using var r = await _http.GetAsync("healthz", ct).ConfigureAwait(false);
                if (r.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested && DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"edgehub did not answer /healthz within 60 s; see {_process.LogPath}");
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Runs an <c>edgehub</c> CLI command (keys, tokens) to its end; returns its standard output, throws with its output when it fails.</summary>
    public static async Task<string> CliAsync(IReadOnlyList<string> arguments, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var r = await EdgeAgent.TestSupport.Mosquitto.ChildProcess.RunAsync("dotnet", [RepoLayout.HubDll, .. arguments], timeout: TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (r.ExitCode != 0) throw new InvalidOperationException($"edgehub {string.Join(' ', arguments)} failed ({r.ExitCode}): {r.StandardError}{r.StandardOutput}");
        return r.StandardOutput;
    }

    /// <summary>SIGKILL: a crashed hub (its unacknowledged messages must come back from the broker).</summary>
    public Task KillAsync() => _process.KillAsync();

    public Task<int> StopAsync() => _process.TerminateAsync();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync().ConfigureAwait(false);
    }
}
