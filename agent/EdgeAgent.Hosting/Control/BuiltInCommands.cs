using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Doctor;
using EdgeAgent.Hosting.Systemd;

namespace EdgeAgent.Hosting.Control;

/// <summary>Result of the built-in <c>host.status</c> command.</summary>
public sealed record HostStatusReport(
    string DeviceId, string? Status, bool Ready, int ProcessId, DateTimeOffset StartedAt, double UptimeSeconds,
    bool Systemd, double? WatchdogPingSeconds, long WatchdogPings, string[] StalledSources, string[] LivenessSources, string[] Commands);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(HostStatusReport))]
public sealed partial class HostingJsonContext : JsonSerializerContext;

/// <summary>
/// Commands the hosting layer answers itself: <c>host.status</c> (readiness, watchdog, stalled loops) and
/// <c>config.show</c> (the effective configuration, secrets redacted). The agent adds its own
/// (<c>status</c>, <c>models.list</c>, …) to the same registry.
/// </summary>
public static class BuiltInCommands
{
    public const string HostStatus = "host.status";
    public const string ConfigShow = "config.show";
    public const string Doctor = "doctor";

    /// <summary>
    /// Registers <c>doctor</c>: runs the checks <paramref name="checks"/> returns (built per call, so they see
    /// the current state) and answers the results as a JSON array of <see cref="DoctorResult"/>.
    /// </summary>
    public static void RegisterDoctor(ControlCommandRegistry registry, Func<IReadOnlyList<IDoctorCheck>> checks) =>
        registry.Register(Doctor, async (_, ct) => JsonSerializer.SerializeToElement(
            [.. await DoctorRunner.RunAsync(checks(), cancellationToken: ct).ConfigureAwait(false)], DoctorJsonContext.Default.DoctorResultArray));

    public static void Register(ControlCommandRegistry registry, AgentOptions options, ServiceStatus status,
        LivenessMonitor liveness, WatchdogService watchdog, SystemdNotifier notifier, TimeProvider time)
    {
        var started = time.GetUtcNow();
        registry.Register(HostStatus, HostingJsonContext.Default.HostStatusReport, _ => ValueTask.FromResult(new HostStatusReport(
            options.DeviceId, status.Current, status.IsReady, Environment.ProcessId, started, (time.GetUtcNow() - started).TotalSeconds,
            notifier.IsEnabled, watchdog.PingInterval?.TotalSeconds, watchdog.PingsSent,
            [.. liveness.StalledSources()], [.. liveness.Sources.Select(s => s.Name)], [.. registry.Commands])));
        registry.Register(ConfigShow, (_, _) =>
            ValueTask.FromResult(JsonDocument.Parse(EffectiveConfigRenderer.Render(options)).RootElement.Clone()));
    }
}
