namespace EdgeAgent.Telemetry.Wire;

/// <summary>
/// The logical queues of the device outbox. Ordering is preserved per stream (and per boot) on the
/// wire; each stream has its own hub-side dedup state (see <c>README.md</c>, "Dedup rule").
/// </summary>
/// <remarks>The numeric values are stored in the device database: never renumber them.</remarks>
public enum TelemetryStream : byte
{
    /// <summary>Predictions, latencies, health. Droppable under disk pressure (oldest first, with a tombstone).</summary>
    Telemetry = 0,

    /// <summary>Drift sketch snapshots. Never dropped; old windows may be merged into coarser ones.</summary>
    Drift = 1,

    /// <summary>Update state machine transitions. Never dropped.</summary>
    Update = 2,

    /// <summary>Hard cases kept while the cloud tier was unreachable. Droppable like telemetry.</summary>
    FallbackCase = 3,
}

/// <summary>Names and MQTT topics of <see cref="TelemetryStream"/> values (DESIGN.md §5).</summary>
public static class TelemetryStreams
{
    /// <summary>All streams, in drain priority order (update transitions first, bulk telemetry last).</summary>
    public static IReadOnlyList<TelemetryStream> ByDrainPriority { get; } =
        [TelemetryStream.Update, TelemetryStream.Drift, TelemetryStream.FallbackCase, TelemetryStream.Telemetry];

    /// <summary>The wire name used in the batch JSON <c>stream</c> field.</summary>
    public static string WireName(TelemetryStream stream) => stream switch
    {
        TelemetryStream.Telemetry => "telemetry",
        TelemetryStream.Drift => "drift",
        TelemetryStream.Update => "update",
        TelemetryStream.FallbackCase => "fallback-case",
        _ => throw new ArgumentOutOfRangeException(nameof(stream), stream, "unknown telemetry stream"),
    };

    /// <summary>Parses a wire name; returns false for anything else.</summary>
    public static bool TryParse(string? name, out TelemetryStream stream)
    {
        switch (name)
        {
            case "telemetry": stream = TelemetryStream.Telemetry; return true;
            case "drift": stream = TelemetryStream.Drift; return true;
            case "update": stream = TelemetryStream.Update; return true;
            case "fallback-case": stream = TelemetryStream.FallbackCase; return true;
            default: stream = default; return false;
        }
    }

    /// <summary>True for streams whose events may be dropped (with a tombstone) when the disk budget is exhausted.</summary>
    public static bool IsDroppable(TelemetryStream stream) =>
        stream is TelemetryStream.Telemetry or TelemetryStream.FallbackCase;

    /// <summary>
    /// MQTT topic for a stream (DESIGN.md §5). Fallback cases have no topic of their own in §5: they
    /// travel on the telemetry topic and are told apart by the batch's <c>stream</c> field.
    /// </summary>
    public static string Topic(string deviceId, TelemetryStream stream)
    {
        ValidateDeviceId(deviceId);
        return stream switch
        {
            TelemetryStream.Drift => $"edgeagent/v1/{deviceId}/drift",
            TelemetryStream.Update => $"edgeagent/v1/{deviceId}/update",
            TelemetryStream.Telemetry or TelemetryStream.FallbackCase => $"edgeagent/v1/{deviceId}/telemetry",
            _ => throw new ArgumentOutOfRangeException(nameof(stream), stream, "unknown telemetry stream"),
        };
    }

    /// <summary>
    /// Topic on which the hub acknowledges stored batches to one device (end-to-end ack, README
    /// "Acknowledgement"): the device subscribes to it, the hub publishes to it.
    /// </summary>
    public static string AckTopic(string deviceId)
    {
        ValidateDeviceId(deviceId);
        return $"edgeagent/v1/{deviceId}/ack";
    }

    /// <summary>
    /// A device id must be one MQTT topic level (the broker ACL pattern <c>edgeagent/v1/%u/#</c> needs
    /// it to fill a whole level): non-empty, at most 128 characters, no '/', '+', '#' or control chars.
    /// </summary>
    public static void ValidateDeviceId(string deviceId)
    {
        if (DeviceIdProblem(deviceId) is { } problem) throw new ArgumentException(problem, nameof(deviceId));
    }

    internal static void ValidateDeviceIdForWire(string deviceId)
    {
        if (DeviceIdProblem(deviceId) is { } problem) throw new TelemetryFormatException(problem);
    }

    private static string? DeviceIdProblem(string? deviceId)
    {
        if (string.IsNullOrEmpty(deviceId) || deviceId.Length > 128)
            return $"device id '{deviceId}' must be 1..128 characters";
        foreach (var c in deviceId)
        {
            if (c is '/' or '+' or '#' || char.IsControl(c))
                return $"device id '{deviceId}' contains '{c}', which cannot appear inside one MQTT topic level";
        }
        return null;
    }
}
