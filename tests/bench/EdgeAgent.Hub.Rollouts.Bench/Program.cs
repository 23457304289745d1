using System.Diagnostics;
using System.Text;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;

// One health evaluation of a rollout whose devices all committed and sent predictions, against the
// baseline of reading the same prediction rows raw (what the evaluation cannot avoid).
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Hub.Rollouts.Bench -- [devices=1000] [predictionsPerDevice=100] [runs=5]
int devices = args.Length > 0 ? int.Parse(args[0]) : 1000;
int perDevice = args.Length > 1 ? int.Parse(args[1]) : 100;
int runs = args.Length > 2 ? int.Parse(args[2]) : 5;
var dir = Directory.CreateTempSubdirectory("rollout-bench-").FullName;
try
{
    await using var store = new SqliteHubStore(Path.Combine(dir, "hub.db"));
    await store.MigrateAsync();
    var t0 = new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);
    await store.RegisterModelAsync(new ModelRecord("vib", "2.0.0", 1, "00", "c", """{"releaseCounter":2}"""u8.ToArray(), null, "bench", t0), [0], null);
    var ids = Enumerable.Range(0, devices).Select(i => $"d{i:D5}").ToList();
    foreach (var id in ids) await store.CreateDeviceAsync(id, new Dictionary<string, string>(), t0);
    var rollout = new RolloutRecord("bench", "vib", "2.0.0", 2, new Dictionary<string, string>(), [new(100, 0, 1)], new RolloutThresholds(),
        RolloutState.Running, 0, t0, null, "bench", t0, t0, null, 1);
    await store.CreateRolloutAsync(rollout, new RolloutEventRecord(t0, "bench", "created", null));
    await store.UpdateRolloutAsync(rollout, 1, [.. ids.Select(d => new RolloutDeviceRecord("bench", d, 0, t0, null, RolloutDeviceAction.Assigned, true))], []);
    await store.StoreUpdateEventsAsync([.. ids.Select(d => new DeviceUpdateEvent(d, new string('a', 32), 1, "vib", "2.0.0", 2, "observing", "committed", null, null, null, t0.AddSeconds(1)))], t0);
    var boot = new string('b', 32);
    foreach (var id in ids)
    {
        var events = Enumerable.Range(2, perDevice).Select(s => new StoredEvent(id, boot, s, "telemetry", "data", t0.AddSeconds(s), 0,
            $$"""{"model":"vib@2.0.0","label":"normal","confidence":0.9,"decidedBy":"{{(s % 10 == 0 ? "fallback" : "local")}}","localLabel":"normal","localConfidence":0.9}""", null)).ToList();
        await store.StoreTelemetryAsync(events, []);
    }
    rollout = (await store.GetRolloutAsync("bench"))!;
    var rows = await store.ListRolloutDevicesAsync("bench");
    var probe = new RolloutHealthProbe(store);
    var now = t0.AddHours(1);
    Console.WriteLine($"devices {devices}, predictions {devices * perDevice}");
    for (int r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew();
        var raw = await store.ListStreamEventsSinceAsync(ids, "telemetry", t0, int.MaxValue);
        long bytes = raw.Sum(e => (long)Encoding.UTF8.GetByteCount(e.Data!));
        var baseline = sw.Elapsed;
        sw.Restart();
        var (health, _) = await probe.MeasureAsync(rollout, rows, now, default);
        var evaluation = sw.Elapsed;
        Console.WriteLine($"run {r + 1}: raw read {raw.Count} rows ({bytes / 1024} KiB) {baseline.TotalMilliseconds:F0} ms; health evaluation {evaluation.TotalMilliseconds:F0} ms " +
                          $"(x{evaluation / baseline:F2}); predictions {health.Predictions}, fallback rate {health.FallbackRate:F3}, committed {health.Committed}");
    }
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(dir, recursive: true);
}
