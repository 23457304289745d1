namespace EdgeAgent.Outbox.Drain;

/// <summary>Settings of <see cref="OutboxDrainer"/>.</summary>
public sealed record DrainerOptions
{
    /// <summary>Device id: one MQTT topic level of <c>edgeagent/v1/{deviceId}/…</c>.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Events per MQTT message at most.</summary>
    public int MaxBatchEvents { get; init; } = 500;

    /// <summary>Payload bytes per message at most (before JSON/base64 overhead; keep below the broker's Maximum Packet Size).</summary>
    public int MaxBatchBytes { get; init; } = 128 * 1024;

    /// <summary>
    /// lastSeq − firstSeq of a batch stays below this. Must be smaller than the hub's dedup window
    /// (TelemetryDedupOptions.WindowSize, 2048 by default) so a retried batch is always recognised.
    /// </summary>
    public long MaxBatchSeqSpan { get; init; } = 1000;

    /// <summary>Publishes outstanding at once (at most one per stream, so order per stream holds; there are four streams).</summary>
    public int MaxInFlight { get; init; } = 4;

    /// <summary>Drain rate limit in events per second (null = unlimited). Live events take the tokens first.</summary>
    public double? MaxEventsPerSecond { get; init; }

    /// <summary>Drain rate limit in published bytes per second (null = unlimited).</summary>
    public double? MaxBytesPerSecond { get; init; }

    /// <summary>How long a publish may wait for its PUBACK before it counts as failed.</summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>First retry delay after a failed publish; doubles per failure (with jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often an idle drainer looks again even without a new-data signal.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromSeconds(5);
}
