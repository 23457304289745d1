using System.Text.Json.Serialization;
using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Measurement;

namespace EdgeAgent.FleetSim.Fleet;

/// <summary>Everything one run measured (written with <c>--out</c>; the per-device detail stays in memory).</summary>
public sealed record FleetResult
{
    public int Devices { get; init; }
    public int Workers { get; init; }
    public int HubInstances { get; init; }
    public string Store { get; init; } = "";
    public double SampleRateHz { get; init; }
    public bool EnginePerDevice { get; init; }
    public double WindowSeconds { get; init; }
    /// <summary>From starting the workers until every device was connected and serving.</summary>
    public double StartupSeconds { get; init; }
    public long BrokerConnectionsPeak { get; init; }
    public long BrokerConnectionsAtEnd { get; init; }
    /// <summary>Broker, hub instances and workers over the steady-state window.</summary>
    public IReadOnlyList<ProcessUsage> Processes { get; init; } = [];
    /// <summary>Rows the hub stored per second during the window.</summary>
    public double HubIngestPerSecond { get; init; }
    public required IngestSummary Ingest { get; init; }
    public long GapsRecorded { get; init; }
    /// <summary>Telemetry messages the hub parked as violating the contract (must be 0).</summary>
    public long RejectedTelemetryMessages { get; init; }
    /// <summary>
    /// Drift messages the hub parked. The agent pipeline writes drift windows as JSON (<c>edgeagent.drift.window/1</c>,
    /// KLL in base64); hubs before 8d31ff8 merged only binary-sketch events and parked every one of them with
    /// "drift window has no binary sketch" (docs/FLEET.md). Counted apart from telemetry.
    /// </summary>
    public long RejectedDriftMessages { get; init; }
    public string? FirstRejection { get; init; }
    /// <summary>After the devices drained: how long until the hub had stored every committed event.</summary>
    public double CatchUpSeconds { get; init; }
    /// <summary>The hub stopped storing before it had every committed event (see <see cref="HubMqttReconnects"/>).</summary>
    public bool HubStalled { get; init; }
    /// <summary>
    /// Times each hub instance's MQTT consumer went to Reconnecting (from its log). Mosquitto 2.0.11 sends a subscriber
    /// more unacknowledged QoS 1 messages than its Receive Maximum once it falls behind; our client then disconnects
    /// with 0x93 and resumes a session holding the same backlog (docs/FLEET.md).
    /// </summary>
    public IReadOnlyDictionary<string, int> HubMqttReconnects { get; init; } = new Dictionary<string, int>();
    public bool AllDrained { get; init; }
    /// <summary>Telemetry/drift messages the broker delivered to each hub instance (2+ instances only).</summary>
    public IReadOnlyDictionary<string, long>? DeliveriesByHub { get; init; }
    public double LoadAverageBefore { get; init; }
    public double LoadAverageDuring { get; init; }
    public double TotalSeconds { get; init; }
    /// <summary>The first install (release 1.0.0 to devices without a model), before the window; null without rollouts.</summary>
    public RolloutResult? FirstInstall { get; init; }
    /// <summary>The measured rollout (release 2.0.0, <see cref="FleetOptions.RolloutModelBytes"/>), started with the window; null without.</summary>
    public RolloutResult? Rollout { get; init; }

    [JsonIgnore]
    public IReadOnlyList<DeviceReport> DeviceReports { get; init; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(FleetResult))]
internal sealed partial class FleetJsonContext : JsonSerializerContext;
