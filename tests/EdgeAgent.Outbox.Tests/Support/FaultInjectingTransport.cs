using System.Collections.Concurrent;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Support;

/// <summary>What the fake broker does with one publish attempt (injected faults only).</summary>
internal enum Fault
{
    /// <summary>Delivered to the hub and acknowledged.</summary>
    None,

    /// <summary>Connection lost before the broker got it: not delivered, publish throws.</summary>
    FailBeforeDelivery,

    /// <summary>Delivered, but the PUBACK was lost: the publish throws although the hub has it.</summary>
    FailAfterDelivery,

    /// <summary>Never answers; honours cancellation.</summary>
    Hang,

    /// <summary>Delivered; the PUBACK is held until the test releases it.</summary>
    HoldAck,
}

/// <summary>
/// Transport that decodes every message with the real wire decoder and feeds delivered ones to the
/// reference hub dedup, with faults chosen per attempt by <see cref="Plan"/>.
/// </summary>
internal sealed class FaultInjectingTransport : ITelemetryTransport
{
    private int _attempts;

    public Func<int, TelemetryBatch, Fault> Plan { get; set; } = (_, _) => Fault.None;

    public ConcurrentQueue<(int Attempt, string Topic, TelemetryBatch Batch, Fault Fault)> Attempts { get; } = new();

    public ConcurrentQueue<(string Topic, TelemetryBatch Batch)> Delivered { get; } = new();

    public ConcurrentQueue<TaskCompletionSource> HeldAcks { get; } = new();

    public TelemetryDeduplicator Hub { get; } = new();

    /// <summary>Events the hub applied after dedup, in arrival order.</summary>
    public ConcurrentQueue<(string BootId, TelemetryStream Stream, TelemetryEvent Event)> Applied { get; } = new();

    public int DeliveredEvents => Delivered.Sum(d => d.Batch.Count);

    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken)
    {
        var batch = TelemetryBatchDecoder.Decode(payload.Span);
        if ((contentType == TelemetryWire.ContentTypeGzipJson) != (payload.Span[0] == 0x1F))
            throw new InvalidOperationException($"content type {contentType} does not match the payload");
        var attempt = Interlocked.Increment(ref _attempts);
        var fault = Plan(attempt, batch);
        Attempts.Enqueue((attempt, topic, batch, fault));
        switch (fault)
        {
            case Fault.FailBeforeDelivery:
                await Task.Yield();
                throw new IOException("injected: connection lost before the broker received the message");
            case Fault.Hang:
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return;
            case Fault.FailAfterDelivery:
                Deliver(topic, batch);
                throw new IOException("injected: PUBACK lost (connection dropped after delivery)");
            case Fault.HoldAck:
                Deliver(topic, batch);
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                HeldAcks.Enqueue(tcs);
                await tcs.Task.WaitAsync(cancellationToken);
                return;
            default:
                Deliver(topic, batch);
                return;
        }
    }

    /// <summary>When set, the fake hub sends the end-to-end ack (encoded and decoded like on the wire) for every delivered batch, asynchronously like a real hub.</summary>
    public TelemetryOutbox? AckTo { get; set; }

    /// <summary>Delivered batches whose ack the hub "loses" (injected fault), by delivery number.</summary>
    public Func<int, TelemetryBatch, bool> LoseAck { get; set; } = (_, _) => false;

    public ConcurrentQueue<Task> AckTasks { get; } = new();

    private int _deliveries;

    private void Deliver(string topic, TelemetryBatch batch)
    {
        Delivered.Enqueue((topic, batch));
        foreach (var e in Hub.Filter(batch).Accepted) Applied.Enqueue((batch.BootId, batch.StreamValue, e));
        var n = Interlocked.Increment(ref _deliveries);
        if (AckTo is { } outbox && !LoseAck(n, batch))
        {
            var message = TelemetryAckCodec.Encode(TelemetryAckCodec.ForBatch(batch));
            AckTasks.Enqueue(Task.Run(() => outbox.AcknowledgeMessageAsync(message)));
        }
    }
}
