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

    /// <summary>
    /// End-to-end acknowledgement (README "End-to-end acknowledgement"): when true, a PUBACK only marks a
    /// batch's rows "sent, awaiting the hub's ack"; they are deleted when the hub's ack arrives
    /// (<see cref="Queue.TelemetryOutbox.AcknowledgeAsync(EdgeAgent.Telemetry.Acks.TelemetryAck, CancellationToken)"/>)
    /// and sent again after <see cref="AckTimeout"/> or a reconnect. When false, rows are deleted on
    /// PUBACK (deployments without a hub that acks; a broker crash can then lose what it acknowledged).
    /// False by default so a device whose agent does not yet subscribe to its ack topic does not resend
    /// forever; the agent service sets it together with its ack subscription.
    /// </summary>
    public bool AwaitHubAck { get; init; }

    /// <summary>With <see cref="AwaitHubAck"/>: a batch without hub ack after this long is sent again (with everything after it in its lane).</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// With <see cref="AwaitHubAck"/>: for one <see cref="AckTimeout"/> after the link to the broker came back, a batch without
    /// hub ack is sent again after this shorter time. A broker that restarted accepts (and PUBACKs) what devices send
    /// before the hub has subscribed again — Mosquitto does not restore shared subscriptions — and drops it, so the first
    /// resends after a reconnect are the ones most likely to need another (docs/CHAOS.md finding 6: a rollout's commit
    /// reports waited the full 60 s). Resends are harmless: the hub's dedup absorbs them.
    /// </summary>
    public TimeSpan ReconnectAckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// With <see cref="AwaitHubAck"/>: batches per stream that may await the hub's ack at once (the send
    /// window). Bounds what a timeout re-sends and what a hub that is down lets pile up at the broker.
    /// </summary>
    public int MaxAwaitingBatches { get; init; } = 16;

    /// <summary>How often an idle drainer looks again even without a new-data signal.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromSeconds(5);
}
