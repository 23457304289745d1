using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeAgent.TestSupport.Mosquitto;

/// <summary>How to configure a test broker. Everything is off unless asked for.</summary>
public sealed record MosquittoBrokerOptions
{
    /// <summary>Allow clients without credentials (applies to all listeners).</summary>
    public bool AllowAnonymous { get; init; } = true;

    /// <summary>User → password, written with mosquitto_passwd.</summary>
    public IReadOnlyDictionary<string, string>? Users { get; init; }

    /// <summary>ACL file text (e.g. <c>pattern readwrite edgeagent/v1/%u/#</c>).</summary>
    public string? Acl { get; init; }

    /// <summary>Adds a TLS listener with generated certificates.</summary>
    public bool Tls { get; init; }

    /// <summary>TLS listener requires a client certificate signed by the test CA; its CN becomes the user name.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>Keeps sessions and in-flight messages across a graceful restart.</summary>
    public bool Persistence { get; init; }

    /// <summary>Adds a Unix domain socket listener.</summary>
    public bool UnixSocket { get; init; }

    /// <summary>Broker Receive Maximum (Mosquitto's default is 20).</summary>
    public int? MaxInflightMessages { get; init; }

    /// <summary>Raw lines appended to the global section.</summary>
    public IReadOnlyList<string> ExtraConfig { get; init; } = [];
}

/// <summary>
/// A real Mosquitto broker on free loopback ports with a generated configuration in its own temp
/// directory: plain TCP listener always; optionally TLS (+ client certificates), Unix socket,
/// password file, ACL file and persistence. Start/stop (SIGTERM, persists)/restart on the same
/// ports/kill (SIGKILL)/pause (SIGSTOP)/resume. Dispose stops it and deletes the directory.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string BrokerPath = "/usr/sbin/mosquitto";

    private readonly MosquittoBrokerOptions _options;
    private Process? _process;
    private readonly StringBuilder _output = new();

    private MosquittoBroker(MosquittoBrokerOptions options, string directory)
    {
        _options = options;
        Directory = directory;
    }

    public string Directory { get; }

    public int Port { get; private set; }

    /// <summary>TLS listener port, 0 when TLS is off.</summary>
    public int TlsPort { get; private set; }

    public string? UnixSocketPath { get; private set; }

    public TestCertificates? Certificates { get; private set; }

    public string ConfigPath => Path.Combine(Directory, "mosquitto.conf");

    public int ProcessId => _process?.Id ?? 0;

    /// <summary>Broker log so far (for assertion messages).</summary>
    public string Log
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<MosquittoBroker> StartAsync(MosquittoBrokerOptions? options = null)
    {
        if (!File.Exists(BrokerPath))
        {
            throw new InvalidOperationException($"{BrokerPath} is missing: install the Debian package 'mosquitto' (build.sh does).");
        }

        options ??= new MosquittoBrokerOptions();
        string directory = Path.Combine(Path.GetTempPath(), "edgeagent-mosquitto-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var broker = new MosquittoBroker(options, directory);
        try
        {
            await broker.ConfigureAsync().ConfigureAwait(false);
            await broker.LaunchAsync().ConfigureAwait(false);
            return broker;
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ConfigureAsync()
    {
        Port = FreePort();
        var config = new StringBuilder();
        // Run as root the broker would drop to user 'mosquitto' and then fail to read files in our
        // mode-700 temp dir (REFERENCE.md); keep root for tests.
        if (Environment.UserName == "root")
        {
            config.AppendLine("user root");
        }

        config.AppendLine("per_listener_settings false");
        config.AppendLine($"allow_anonymous {(_options.AllowAnonymous ? "true" : "false")}");
        config.AppendLine("log_dest stdout");
        config.AppendLine("log_type error");
        config.AppendLine("log_type warning");
        config.AppendLine("log_type notice");
        config.AppendLine("log_type information");
        config.AppendLine("connection_messages true");
        if (_options.MaxInflightMessages is { } inflight)
        {
            config.AppendLine($"max_inflight_messages {inflight}");
        }

        if (_options.Persistence)
        {
            string data = Path.Combine(Directory, "data");
            System.IO.Directory.CreateDirectory(data);
            config.AppendLine("persistence true");
            config.AppendLine($"persistence_location {data}/");
        }

        if (_options.Users is { Count: > 0 } users)
        {
            string passwordFile = Path.Combine(Directory, "passwd");
            bool first = true;
            foreach ((string user, string password) in users)
            {
                var args = new List<string>();
                if (first)
                {
                    args.Add("-c");
                }

                args.AddRange(["-b", passwordFile, user, password]);
                ChildProcess.Result result = await ChildProcess.RunAsync("mosquitto_passwd", args).ConfigureAwait(false);
                if (result.ExitCode != 0)
                {
                    throw new InvalidOperationException($"mosquitto_passwd failed: {result.StandardError}");
                }

                first = false;
            }

            config.AppendLine($"password_file {passwordFile}");
        }

        if (_options.Acl is { } acl)
        {
            string aclFile = Path.Combine(Directory, "acl");
            await File.WriteAllTextAsync(aclFile, acl).ConfigureAwait(false);
            config.AppendLine($"acl_file {aclFile}");
        }

        foreach (string line in _options.ExtraConfig)
        {
            config.AppendLine(line);
        }

        config.AppendLine($"listener {Port} 127.0.0.1");
        if (_options.Tls || _options.RequireClientCertificate)
        {
            Certificates = TestCertificates.Create(Directory);
            TlsPort = FreePort();
            config.AppendLine($"listener {TlsPort} 127.0.0.1");
            config.AppendLine($"cafile {Certificates.CaCertificatePath}");
            config.AppendLine($"certfile {Certificates.ServerCertificatePath}");
            config.AppendLine($"keyfile {Certificates.ServerKeyPath}");
            config.AppendLine("tls_version tlsv1.2");
            if (_options.RequireClientCertificate)
            {
                config.AppendLine("require_certificate true");
                config.AppendLine("use_identity_as_username true");
            }
        }

        if (_options.UnixSocket)
        {
            UnixSocketPath = Path.Combine(Directory, "mqtt.sock");
            config.AppendLine($"listener 0 {UnixSocketPath}");
        }

        await File.WriteAllTextAsync(ConfigPath, config.ToString()).ConfigureAwait(false);
    }

    private async Task LaunchAsync()
    {
        var info = new ProcessStartInfo(BrokerPath)
        {
            ArgumentList = { "-c", ConfigPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process = Process.Start(info) ?? throw new InvalidOperationException("mosquitto did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        // Ready when the plain listener accepts a TCP connection.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with code {process.ExitCode} at start-up:\n{Log}\nconfig:\n{await File.ReadAllTextAsync(ConfigPath).ConfigureAwait(false)}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(25).ConfigureAwait(false);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>Graceful stop (SIGTERM): the broker writes its persistence file and exits.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        ChildProcess.Signal(process.Id, "TERM");
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL: no goodbye, nothing persisted since the last save.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            // No SIGCONT first: a paused broker must not get a chance to process what is queued.
            process.Kill();
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>SIGSTOP: the broker stops answering but its sockets stay open (a silent dead link).</summary>
    public void Pause() => ChildProcess.Signal(ProcessId, "STOP");

    public void Resume() => ChildProcess.Signal(ProcessId, "CONT");

    /// <summary>Starts again with the same configuration and ports (after Stop or Kill).</summary>
    public async Task StartAgainAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The broker is still running.");
        }

        _process?.Dispose();
        if (UnixSocketPath is not null && File.Exists(UnixSocketPath))
        {
            File.Delete(UnixSocketPath);
        }

        await LaunchAsync().ConfigureAwait(false);
    }

    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await StartAgainAsync().ConfigureAwait(false);
    }

    /// <summary>Arguments for mosquitto_pub/mosquitto_sub to reach the plain listener.</summary>
    public string[] ClientArguments => ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                ChildProcess.Signal(_process.Id, "CONT");
            }

            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _process?.Dispose();
            Certificates?.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // A socket file still being released; the temp dir is cleaned later.
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
