namespace EdgeAgent.Telemetry.Wire;

/// <summary>What an event in a batch is. Stored in the device database: never renumber.</summary>
public enum TelemetryEventKind : byte
{
    /// <summary>An application event: JSON (<c>data</c>) or binary (<c>bin</c>, base64 on the wire).</summary>
    Data = 0,

    /// <summary>
    /// Written by the outbox when it dropped events to stay within its disk budget. Payload:
    /// <see cref="TombstonePayload"/>. It has its own (bootId, seq) and is never dropped itself.
    /// </summary>
    Tombstone = 1,

    /// <summary>Something the outbox itself reports (e.g. a quarantined database). Payload: <see cref="OutboxNoticePayload"/>.</summary>
    Notice = 2,
}

/// <summary>Wire names of <see cref="TelemetryEventKind"/>.</summary>
public static class TelemetryEventKinds
{
    public static string WireName(TelemetryEventKind kind) => kind switch
    {
        TelemetryEventKind.Data => "data",
        TelemetryEventKind.Tombstone => "tombstone",
        TelemetryEventKind.Notice => "notice",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown event kind"),
    };

    public static bool TryParse(string? name, out TelemetryEventKind kind)
    {
        switch (name)
        {
            case "data": kind = TelemetryEventKind.Data; return true;
            case "tombstone": kind = TelemetryEventKind.Tombstone; return true;
            case "notice": kind = TelemetryEventKind.Notice; return true;
            default: kind = default; return false;
        }
    }
}
