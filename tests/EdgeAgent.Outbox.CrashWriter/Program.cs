// Crash-test child: appends events as fast as it can and prints, after each commit returned,
//   C <bootId> <firstSeq> <lastSeq>
// The parent kills it with SIGKILL at a random moment and then checks that every reported seq is
// stored exactly once. Usage: dotnet EdgeAgent.Outbox.CrashWriter.dll <database-path> [budget-bytes] [hub-ack]
//
// With "hub-ack" it also drains with end-to-end acknowledgement through an in-process transport that
// PUBACKs every batch at once (the broker has it) and a hub that acknowledges only every other batch:
//   S <bootId> <seq,seq,...>   a batch the broker acknowledged (PUBACK)
//   R <bootId> <seq,seq,...>   the hub acknowledges this batch (printed before the ack is applied)
// Rows of S batches without an R must survive the kill: a PUBACK alone never deletes.
using System.Text;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: EdgeAgent.Outbox.CrashWriter <database-path> [budget-bytes] [hub-ack]");
    return 2;
}

var options = new OutboxOptions
{
    DatabasePath = args[0],
    BudgetBytes = args.Length > 1 && args[1] != "-" ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1L << 30,
    Durability = OutboxDurability.Full,
};
var stdout = Console.Out;
await using var outbox = await TelemetryOutbox.OpenAsync(options);
outbox.Committed += range =>
{
    if (range.DroppedOnAppend != 0) stdout.WriteLine($"D {range.BootId} {range.FirstSeq} {range.LastSeq}");
    else stdout.WriteLine($"C {range.BootId} {range.FirstSeq} {range.LastSeq}");
};
stdout.WriteLine($"READY {outbox.BootId} {(outbox.OpenReport.QuarantinedTo is null ? "-" : "QUARANTINED")}");
if (args.Length > 2 && args[2] == "hub-ack")
{
    var drainer = new OutboxDrainer(outbox, new AckingHalfTransport(outbox, stdout),
        new DrainerOptions { DeviceId = "crash", AwaitHubAck = true, MaxBatchEvents = 100, MaxAwaitingBatches = 1000 });
    _ = drainer.RunAsync(CancellationToken.None); // runs until the SIGKILL
}

var padding = new string('x', 64);
for (long n = 0; ; n++)
{
    var stream = (n % 50) switch
    {
        0 => TelemetryStream.Drift,
        1 => TelemetryStream.Update,
        2 => TelemetryStream.FallbackCase,
        _ => TelemetryStream.Telemetry,
    };
    var payload = Encoding.UTF8.GetBytes($$"""{"n":{{n}},"pad":"{{padding}}"}""");
    await outbox.EnqueueAsync(new OutboxEvent(stream, payload, MergeKey: stream == TelemetryStream.Drift ? "m/f" : null));
}

/// <summary>PUBACKs every batch at once; the "hub" acknowledges every other one, asynchronously like a real hub.</summary>
internal sealed class AckingHalfTransport(TelemetryOutbox outbox, TextWriter stdout) : ITelemetryTransport
{
    private int _batches;

    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken)
    {
        var batch = TelemetryBatchDecoder.Decode(payload.Span);
        var seqs = string.Join(',', batch.Events.Select(e => e.Seq));
        stdout.WriteLine($"S {batch.BootId} {seqs}");
        if (Interlocked.Increment(ref _batches) % 2 == 0)
        {
            stdout.WriteLine($"R {batch.BootId} {seqs}");
            _ = Task.Run(() => outbox.AcknowledgeAsync(TelemetryAckCodec.ForBatch(batch)));
        }
        return ValueTask.CompletedTask;
    }
}
