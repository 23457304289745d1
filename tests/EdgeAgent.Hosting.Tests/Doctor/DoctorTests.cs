using System.Net;
using System.Net.Sockets;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Doctor;
using EdgeAgent.Hosting.Tests.Support;

namespace EdgeAgent.Hosting.Tests.Doctor;

public sealed class DoctorTests
{
    private static async Task<DoctorResult> Run(IDoctorCheck check) => Assert.Single(await DoctorRunner.RunAsync([check]));

    [Fact]
    public async Task A_missing_onnx_runtime_fails_with_a_reinstall_hint()
    {
        var r = await Run(new OnnxRuntimeCheck(() => throw new DllNotFoundException("libonnxruntime.so.1: cannot open shared object file")));
        Assert.Equal(DoctorStatus.Fail, r.Status);
        Assert.Contains("cannot open shared object file", r.Message);
        Assert.Contains("reinstall", r.Fix);
        Assert.Equal(DoctorStatus.Ok, (await Run(new OnnxRuntimeCheck(() => "1.30.0"))).Status);
    }

    [Fact]
    public async Task Configuration_errors_fail_and_warnings_warn()
    {
        var error = new ConfigProblem(ConfigProblemSeverity.Error, "mqtt.port", "'x' is not a whole number");
        var warning = new ConfigProblem(ConfigProblemSeverity.Warning, "mqtt.hots", "unknown setting");
        Assert.Equal(DoctorStatus.Fail, (await Run(new ConfigurationCheck([error, warning]))).Status);
        var w = await Run(new ConfigurationCheck([warning]));
        Assert.Equal(DoctorStatus.Warn, w.Status);
        Assert.Contains("mqtt.hots", w.Message);
        Assert.Equal(DoctorStatus.Ok, (await Run(new ConfigurationCheck([]))).Status);
    }

    [Theory]
    [InlineData(500L << 20, DoctorStatus.Ok)]
    [InlineData(50L << 20, DoctorStatus.Warn)]
    [InlineData(5L << 20, DoctorStatus.Fail)]
    public async Task Disk_space_is_judged_against_the_thresholds(long free, DoctorStatus expected)
    {
        var r = await Run(new DiskSpaceCheck("/var/lib/edgeagent", 100L << 20, 10L << 20, _ => free));
        Assert.Equal(expected, r.Status);
        Assert.Contains($"{free >> 20} MiB free", r.Message);
    }

    [Fact]
    public async Task Disk_space_of_a_real_directory_is_measured()
    {
        using var dir = new TempDirectory();
        var r = await Run(new DiskSpaceCheck(dir.Path, 1, 0));
        Assert.Equal(DoctorStatus.Ok, r.Status);
    }

    [Fact]
    public async Task A_clock_before_the_build_date_fails()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(1970, 1, 1, 0, 0, 12, TimeSpan.Zero));
        var r = await Run(new ClockCheck(time, ClockCheck.ReleaseFloor));
        Assert.Equal(DoctorStatus.Fail, r.Status);
        Assert.Contains("timedatectl", r.Fix);
        Assert.Equal(DoctorStatus.Ok, (await Run(new ClockCheck(new ManualTimeProvider(), ClockCheck.ReleaseFloor))).Status);
    }

    [Fact]
    public async Task A_listening_broker_port_is_reachable_and_a_closed_one_is_not()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Assert.Equal(DoctorStatus.Ok, (await Run(new BrokerReachabilityCheck("127.0.0.1", port, TimeSpan.FromSeconds(10)))).Status);
        listener.Stop();
        var r = await Run(new BrokerReachabilityCheck("127.0.0.1", port, TimeSpan.FromSeconds(10)));
        Assert.Equal(DoctorStatus.Fail, r.Status);
        Assert.Contains("mqtt.port", r.Fix);
    }

    [Fact]
    public async Task An_unresolvable_broker_host_names_DNS()
    {
        var r = await Run(new BrokerReachabilityCheck("no-such-host.invalid", 1883, TimeSpan.FromSeconds(10)));
        Assert.Equal(DoctorStatus.Fail, r.Status);
    }

    [Fact]
    public async Task Sqlite_integrity_problems_and_errors_fail()
    {
        Assert.Equal(DoctorStatus.Ok, (await Run(new SqliteIntegrityCheck("outbox.db", _ => Task.FromResult("ok")))).Status);
        var corrupt = await Run(new SqliteIntegrityCheck("outbox.db", _ => Task.FromResult("*** in database main ***\nPage 5: btreeInitPage() returns error code 11")));
        Assert.Equal(DoctorStatus.Fail, corrupt.Status);
        Assert.Contains("Page 5", corrupt.Message);
        var unreadable = await Run(new SqliteIntegrityCheck("outbox.db", _ => throw new IOException("database disk image is malformed")));
        Assert.Equal(DoctorStatus.Fail, unreadable.Status);
        Assert.Contains("malformed", unreadable.Message);
    }

    [Fact]
    public async Task Directory_checks_catch_missing_and_world_writable_directories()
    {
        using var dir = new TempDirectory();
        var missing = await Run(new DirectoryPermissionsCheck("state", dir.Combine("absent")));
        Assert.Equal(DoctorStatus.Fail, missing.Status);
        Assert.Contains("install -d -o edgeagent", missing.Fix);

        string open = Directory.CreateDirectory(dir.Combine("open")).FullName;
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        Assert.Equal(DoctorStatus.Warn, (await Run(new DirectoryPermissionsCheck("state", open))).Status);

        File.SetUnixFileMode(open, (UnixFileMode)0b111_101_000);
        var ok = await Run(new DirectoryPermissionsCheck("state", open));
        Assert.Equal(DoctorStatus.Ok, ok.Status);
        Assert.Contains("0750", ok.Message);
    }

    [Fact]
    public async Task A_hanging_or_throwing_check_becomes_a_failure_and_the_rest_still_run()
    {
        var results = await DoctorRunner.RunAsync(
            [new SqliteIntegrityCheck("outbox.db", async ct => { await Task.Delay(Timeout.Infinite, ct); return "ok"; }),
             new DiskSpaceCheck("/", 0, 0, _ => throw new InvalidOperationException("statvfs exploded")),
             new OnnxRuntimeCheck(() => "1.30.0")],
            TimeSpan.FromMilliseconds(200));
        Assert.Equal([DoctorStatus.Fail, DoctorStatus.Fail, DoctorStatus.Ok], results.Select(r => r.Status));
        Assert.Contains("did not finish", results[0].Message);
        Assert.Contains("statvfs exploded", results[1].Message);
        Assert.Equal(DoctorStatus.Fail, DoctorRunner.Overall(results));
        string text = DoctorRunner.Format(results);
        Assert.Contains("[FAIL] sqlite: did not finish", text);
        Assert.Contains("[ ok ] onnxruntime: loaded, version 1.30.0", text);
    }

    [Fact]
    public async Task The_report_serializes_to_json_with_status_names()
    {
        var results = await DoctorRunner.RunAsync([new OnnxRuntimeCheck(() => "1.30.0")]);
        string json = System.Text.Json.JsonSerializer.Serialize(results, DoctorJsonContext.Default.IReadOnlyListDoctorResult);
        Assert.Contains("\"status\": \"Ok\"", json);
    }
}

public sealed class DoctorCommandTests
{
    [Fact]
    public async Task The_doctor_control_command_answers_the_results_as_json()
    {
        using var dir = new TempDirectory();
        var registry = new EdgeAgent.Hosting.Control.ControlCommandRegistry();
        EdgeAgent.Hosting.Control.BuiltInCommands.RegisterDoctor(registry, () =>
            [new OnnxRuntimeCheck(() => "1.30.0"), new SqliteIntegrityCheck("outbox.db", _ => Task.FromResult("row 3 missing from index"))]);
        await using var server = new EdgeAgent.Hosting.Control.ControlServer(registry,
            new EdgeAgent.Hosting.Control.ControlServerOptions { SocketPath = dir.Combine("c.sock") },
            Microsoft.Extensions.Logging.Abstractions.NullLogger<EdgeAgent.Hosting.Control.ControlServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        var results = await new EdgeAgent.Hosting.Control.ControlClient(dir.Combine("c.sock"))
            .InvokeAsync("doctor", DoctorJsonContext.Default.DoctorResultArray);
        Assert.Equal([DoctorStatus.Ok, DoctorStatus.Fail], results.Select(r => r.Status));
        Assert.Contains("row 3 missing", results[1].Message);
    }
}
