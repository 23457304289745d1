using System.Net.Sockets;
using EdgeAgent.Hosting.Configuration;

namespace EdgeAgent.Hosting.Doctor;

/// <summary>ONNX Runtime can be loaded. The probe (from the inference library) returns the version or throws.</summary>
public sealed class OnnxRuntimeCheck(Func<string> probe) : IDoctorCheck
{
    public string Name => "onnxruntime";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult(DoctorResult.Ok(Name, $"loaded, version {probe()}"));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException or IOException)
        {
            return Task.FromResult(new DoctorResult(Name, DoctorStatus.Fail, $"cannot load libonnxruntime.so.1: {e.Message}",
                "reinstall the edgeagent package (it ships /usr/lib/edgeagent/libonnxruntime.so.1 for this architecture)"));
        }
    }
}

/// <summary>The configuration validated (problems found at load).</summary>
/// <param name="problems">Problems found when loading.</param>
/// <param name="configPath">The file that was loaded (named in the fix hint, so <c>--config</c> users are sent to their own file).</param>
public sealed class ConfigurationCheck(IReadOnlyList<ConfigProblem> problems, string configPath = AgentOptions.DefaultConfigPath) : IDoctorCheck
{
    public string Name => "config";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var errors = problems.Where(p => p.Severity == ConfigProblemSeverity.Error).ToList();
        var warnings = problems.Where(p => p.Severity == ConfigProblemSeverity.Warning).ToList();
        DoctorResult r = errors.Count > 0
            ? new(Name, DoctorStatus.Fail, string.Join("; ", errors.Select(p => $"{p.Path}: {p.Message}")), Hint)
            : warnings.Count > 0
                ? new(Name, DoctorStatus.Warn, string.Join("; ", warnings.Select(p => $"{p.Path}: {p.Message}")), Hint)
                : DoctorResult.Ok(Name, "valid");
        return Task.FromResult(r);
    }

    private string Hint => configPath == AgentOptions.DefaultConfigPath
        ? $"edit {configPath}, then run 'edgeagent config check'"
        : $"edit {configPath}, then run 'edgeagent config check --config {configPath}'";
}

/// <summary>Free space on the file system of the state directory (the outbox and model slots live there).</summary>
public sealed class DiskSpaceCheck(string path, long warnBelowBytes, long failBelowBytes, Func<string, long>? freeBytes = null) : IDoctorCheck
{
    public string Name => "disk";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        // DriveInfo on Unix runs statvfs on the given path: the file system the directory is on.
        long free = (freeBytes ?? (p => new DriveInfo(p).AvailableFreeSpace))(path);
        string text = $"{free / (1024 * 1024)} MiB free on the file system of {path}";
        return Task.FromResult(free < failBelowBytes
            ? new DoctorResult(Name, DoctorStatus.Fail, text, "free space (old logs, core dumps) or lower outbox.budgetBytes; the outbox and model updates need it")
            : free < warnBelowBytes
                ? new DoctorResult(Name, DoctorStatus.Warn, text, "free space soon: model updates need room for a second model slot")
                : DoctorResult.Ok(Name, text));
    }
}

/// <summary>
/// The wall clock is plausible: not before <paramref name="notBefore"/> (the build date). A device that
/// boots without RTC battery or NTP starts in 1970, and then TLS certificates and TUF metadata all look
/// not-yet-valid or expired.
/// </summary>
public sealed class ClockCheck(TimeProvider time, DateTimeOffset notBefore) : IDoctorCheck
{
    /// <summary>The release floor used when no better date is known.</summary>
    public static readonly DateTimeOffset ReleaseFloor = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The later of <see cref="ReleaseFloor"/> and the modification time of the running executable.</summary>
    public static DateTimeOffset DefaultNotBefore()
    {
        var floor = ReleaseFloor;
        if (Environment.ProcessPath is { } exe && File.Exists(exe))
        {
            var written = new DateTimeOffset(File.GetLastWriteTimeUtc(exe), TimeSpan.Zero);
            if (written > floor) floor = written;
        }
        return floor;
    }

    public string Name => "clock";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return Task.FromResult(now < notBefore
            ? new DoctorResult(Name, DoctorStatus.Fail, $"system time {now:u} is before the build date {notBefore:u}",
                "enable time synchronisation (timedatectl set-ntp true) or set the clock; TLS and update signatures fail until then")
            : DoctorResult.Ok(Name, $"system time {now:u}"));
    }
}

/// <summary>The MQTT broker accepts TCP connections (no MQTT handshake: that is the MQTT loop's job).</summary>
public sealed class BrokerReachabilityCheck(string host, int port, TimeSpan timeout) : IDoctorCheck
{
    public string Name => "broker";

    public async Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            return DoctorResult.Ok(Name, $"{host}:{port} accepts connections");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(Name, DoctorStatus.Fail, $"{host}:{port} did not answer within {timeout.TotalSeconds:0.#} s",
                "check the network route and firewall to the broker, and mqtt.host/mqtt.port");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData)
        {
            return new(Name, DoctorStatus.Fail, $"cannot resolve {host}: {e.Message}", "check mqtt.host and the DNS configuration (resolvectl status)");
        }
        catch (SocketException e)
        {
            return new(Name, DoctorStatus.Fail, $"{host}:{port}: {e.Message}", "check that the broker runs and listens on that port, and mqtt.port");
        }
    }
}

/// <summary>SQLite integrity of the outbox (the delegate runs <c>PRAGMA integrity_check</c> and returns its text).</summary>
public sealed class SqliteIntegrityCheck(string database, Func<CancellationToken, Task<string>> integrityCheck) : IDoctorCheck
{
    public string Name => "sqlite";

    public async Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        string result;
        try { result = await integrityCheck(cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new(Name, DoctorStatus.Fail, $"{database}: cannot check: {e.Message}",
                "stop the agent and move the database aside; the agent recreates it (records not yet sent are lost)");
        }
        return result.Trim() == "ok"
            ? DoctorResult.Ok(Name, $"{database}: integrity ok")
            : new(Name, DoctorStatus.Fail, $"{database}: {result.Trim().ReplaceLineEndings("; ")}",
                "stop the agent and move the database aside; the agent quarantines and recreates it");
    }
}

/// <summary>A directory the agent needs exists, is writable by the agent's user and not writable by everyone.</summary>
public sealed class DirectoryPermissionsCheck(string label, string path) : IDoctorCheck
{
    public string Name => $"{label}-dir";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        const string Fix = "systemd creates it via StateDirectory=/RuntimeDirectory=; by hand: install -d -o edgeagent -g edgeagent -m 0750 ";
        if (!Directory.Exists(path))
            return Task.FromResult(new DoctorResult(Name, DoctorStatus.Fail, $"{path} does not exist", Fix + path));
        string probe = Path.Combine(path, $".doctor-{Environment.ProcessId}-{Guid.NewGuid():n}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return Task.FromResult(new DoctorResult(Name, DoctorStatus.Fail, $"{path} is not writable by this user: {e.Message}", Fix + path));
        }
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & UnixFileMode.OtherWrite) != 0)
                return Task.FromResult(new DoctorResult(Name, DoctorStatus.Warn, $"{path} is writable by every user (mode {Octal(mode)})", $"chmod o-w {path}"));
            return Task.FromResult(DoctorResult.Ok(Name, $"{path} writable, mode {Octal(mode)}"));
        }
        return Task.FromResult(DoctorResult.Ok(Name, $"{path} writable"));
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');
}

/// <summary>The standard set of checks for an agent configuration.</summary>
public static class StandardDoctorChecks
{
    /// <param name="options">The agent's options, or null when the configuration is invalid (then only machine checks run).</param>
    /// <param name="problems">Problems found when loading the configuration.</param>
    /// <param name="onnxRuntimeProbe">Loads ONNX Runtime and returns its version (from the inference library).</param>
    /// <param name="sqliteIntegrity">The outbox database and a delegate running <c>PRAGMA integrity_check</c> on it; null skips the check (no outbox yet).</param>
    /// <param name="time">Clock to judge.</param>
    /// <param name="configPath">The configuration file that was loaded.</param>
    public static IReadOnlyList<IDoctorCheck> Create(AgentOptions? options, IReadOnlyList<ConfigProblem> problems,
        Func<string> onnxRuntimeProbe, (string Database, Func<CancellationToken, Task<string>> Check)? sqliteIntegrity, TimeProvider time,
        string configPath = AgentOptions.DefaultConfigPath)
    {
        var checks = new List<IDoctorCheck>
        {
            new ConfigurationCheck(problems, configPath),
            new OnnxRuntimeCheck(onnxRuntimeProbe),
            new ClockCheck(time, ClockCheck.DefaultNotBefore()),
        };
        if (options is null) return checks;
        checks.Add(new DirectoryPermissionsCheck("state", options.StateDirectory));
        checks.Add(new DirectoryPermissionsCheck("runtime", options.RuntimeDirectory));
        if (Directory.Exists(options.StateDirectory))
            checks.Add(new DiskSpaceCheck(options.StateDirectory, warnBelowBytes: options.Outbox.BudgetBytes * 2, failBelowBytes: options.Outbox.BudgetBytes / 4));
        checks.Add(new BrokerReachabilityCheck(options.Mqtt.Host, options.Mqtt.Port, TimeSpan.FromSeconds(5)));
        if (sqliteIntegrity is { } sqlite)
            checks.Add(new SqliteIntegrityCheck(sqlite.Database, sqlite.Check));
        return checks;
    }
}
