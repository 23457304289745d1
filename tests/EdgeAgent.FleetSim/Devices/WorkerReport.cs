using System.Text.Json.Serialization;

namespace EdgeAgent.FleetSim.Devices;

/// <summary>What one simulated device did during a run (written by its worker, read by the coordinator).</summary>
public sealed record DeviceReport(
    string Id,
    string BootId,
    IReadOnlyList<CommitRecord> Commits,
    long Windows,
    long TelemetryCommitted,
    long PendingAtEnd,
    string MqttState,
    IReadOnlyList<UpdateTransition>? Updates = null);

/// <summary>One worker process's devices and its own start-up cost.</summary>
public sealed record WorkerReport(int First, int Count, double ConnectSeconds, bool Drained, IReadOnlyList<DeviceReport> Devices);

[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(WorkerReport))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;
