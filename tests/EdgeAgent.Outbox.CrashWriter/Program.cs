// Crash-test child: appends events as fast as it can and prints, after each commit returned,
//   C <bootId> <firstSeq> <lastSeq>
// The parent kills it with SIGKILL at a random moment and then checks that every reported seq is
// stored exactly once. Usage: dotnet EdgeAgent.Outbox.CrashWriter.dll <database-path> [budget-bytes]
using System.Text;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: EdgeAgent.Outbox.CrashWriter <database-path> [budget-bytes]");
    return 2;
}

var options = new OutboxOptions
{
    DatabasePath = args[0],
    BudgetBytes = args.Length > 1 ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1L << 30,
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
