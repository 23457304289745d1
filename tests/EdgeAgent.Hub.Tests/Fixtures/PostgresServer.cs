using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EdgeAgent.TestSupport.Mosquitto;
using Npgsql;

namespace EdgeAgent.Hub.Tests.Fixtures;

/// <summary>
/// A real PostgreSQL server from Debian's <c>postgresql</c> package, in a temp directory: initdb, then
/// <c>postgres</c> on a free port with its unix socket in the same directory (no TCP listener). Run as
/// the <c>postgres</c> user when the tests run as root (PostgreSQL refuses to run as root).
/// Needs the Debian package <c>postgresql</c> (which brings <c>/usr/lib/postgresql/15/bin</c>).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private readonly Process _process;

    private readonly bool _root;

    private PostgresServer(string directory, int port, Process process, bool root)
    {
        _root = root;
        Directory = directory;
        Port = port;
        _process = process;
    }

    /// <summary>Temp directory holding data/ and the socket.</summary>
    public string Directory { get; }

    public int Port { get; }

    /// <summary>Connection string for a database (created by <see cref="CreateDatabaseAsync"/>).</summary>
    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = Directory, Port = Port, Username = "postgres", Database = database, Pooling = true }.ToString();

    /// <param name="durable">Keep fsync on (benchmarks); tests turn it off because they never survive a power cut.</param>
    public static async Task<PostgresServer> StartAsync(bool durable = false)
    {
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")))
            throw new InvalidOperationException($"{BinDirectory}/initdb is missing: install the Debian package 'postgresql' (build.sh does).");
        var dir = Path.Combine(Path.GetTempPath(), "edgehub-pg-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        bool root = Environment.UserName == "root";
        if (root)
        {
            var chown = await ChildProcess.RunAsync("chown", ["postgres:postgres", dir]);
            if (chown.ExitCode != 0) throw new InvalidOperationException($"chown {dir} failed: {chown.StandardError}");
        }
        var data = Path.Combine(dir, "data");
        var init = await RunAsPostgresAsync(root, Path.Combine(BinDirectory, "initdb"),
            ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"]);
        if (init.ExitCode != 0) throw new InvalidOperationException($"initdb failed ({init.ExitCode}): {init.StandardError}{init.StandardOutput}");

        int port = FreePort();
        var args = new List<string> { "-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-k", dir, "-c", "listen_addresses=" };
        if (!durable) args.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        var psi = root
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", Path.Combine(BinDirectory, "postgres"), .. args])
            : new ProcessStartInfo(Path.Combine(BinDirectory, "postgres"), args);
        psi.RedirectStandardError = true;
        psi.RedirectStandardOutput = true;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("postgres did not start");
        var log = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new PostgresServer(dir, port, process, root);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await using var c = new NpgsqlConnection(server.ConnectionString());
                await c.OpenAsync();
                return server;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100);
            }
            catch (Exception) when (process.HasExited || DateTime.UtcNow >= deadline)
            {
                await server.DisposeAsync();
                string text;
                lock (log) text = log.ToString();
                throw new InvalidOperationException($"postgres did not accept connections: {text}");
            }
        }
    }

    /// <summary>Creates an empty database so each test class gets its own schema state.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var c = new NpgsqlConnection(ConnectionString());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", c);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    private static Task<ChildProcess.Result> RunAsPostgresAsync(bool root, string file, IEnumerable<string> args) =>
        root ? ChildProcess.RunAsync("runuser", ["-u", "postgres", "--", file, .. args], timeout: TimeSpan.FromSeconds(120))
             : ChildProcess.RunAsync(file, args, timeout: TimeSpan.FromSeconds(120));

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (!_process.HasExited)
        {
            // pg_ctl rather than a signal: under runuser our child is runuser, not postgres.
            await RunAsPostgresAsync(_root, Path.Combine(BinDirectory, "pg_ctl"), ["stop", "-D", Path.Combine(Directory, "data"), "-m", "fast", "-w"]);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
