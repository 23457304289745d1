using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.FleetSim.Devices;

/// <summary>Settings of one worker process (a slice of the fleet).</summary>
public sealed record WorkerSettings
{
    public required int First { get; init; }
    public required int Count { get; init; }
    public required string BrokerHost { get; init; }
    public required int BrokerPort { get; init; }
    public required string StateRoot { get; init; }
    public required string ReportPath { get; init; }
    public double SampleRateHz { get; init; } = 50;
    public TimeSpan DriftSnapshotInterval { get; init; } = TimeSpan.FromSeconds(30);
    public bool EnginePerDevice { get; init; }
    /// <summary>Devices connecting at the same time (a connect storm is realistic, but 1,000 at once only measures the accept queue).</summary>
    public int ConnectParallelism { get; init; } = 32;
    public long OutboxBudgetBytes { get; init; } = 4 * 1024 * 1024;
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Take models from the hub's rollouts (null: every device serves the built-in <see cref="FleetModel"/>).</summary>
    public DeviceUpdateSettings? Updates { get; init; }

    /// <summary>Device id of fleet index <paramref name="index"/> (one MQTT topic level, sortable).</summary>
    public static string DeviceId(int index) => "fleet-" + index.ToString("D5", CultureInfo.InvariantCulture);
}

/// <summary>
/// Runs a slice of the fleet in this process and talks to the coordinator over stdin/stdout, one line each:
/// it prints <c>READY count seconds</c> when every device is connected and serving (with updates: connected and
/// waiting for the first release the hub assigns), then obeys <c>stop</c>
/// (end sensing, drain every outbox, write the report, print <c>DONE</c>). A line the worker does not
/// understand is an error on stderr, not a crash.
/// </summary>
public sealed class DeviceWorker(WorkerSettings settings)
{
    public async Task<int> RunAsync(TextReader commands, TextWriter replies, CancellationToken cancellationToken)
    {
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
            .AddFilter((_, _, level) => level >= LogLevel.Warning));
        Directory.CreateDirectory(settings.StateRoot);
        if (settings.Updates is not null)
        {
            // Each simulated device stands for a machine with its own threads. Installing a release blocks the installing
            // thread for a while (ONNX Runtime session, golden vectors, 200 latency runs) — harmless in an agent process,
            // but 500 devices of one worker activating at once would starve the thread pool, and a starved pool stops
            // every device's MQTT keep-alive (seen at N = 1,000: the broker dropped 958 devices for silence, docs/FLEET.md).
            ThreadPool.GetMinThreads(out int workerThreads, out int ioThreads);
            ThreadPool.SetMinThreads(Math.Max(workerThreads, settings.Count + 32), ioThreads);
        }
        using var model = settings.Updates is null ? FleetModel.Create(Path.Combine(settings.StateRoot, $"model-{settings.First}"), settings.EnginePerDevice) : null;
        var env = new DeviceEnvironment(settings.BrokerHost, settings.BrokerPort, model, settings.SampleRateHz,
            settings.DriftSnapshotInterval, settings.OutboxBudgetBytes, loggers, settings.Updates);
        var devices = Enumerable.Range(settings.First, settings.Count)
            .Select(i => new SimulatedDevice(WorkerSettings.DeviceId(i), i, Path.Combine(settings.StateRoot, WorkerSettings.DeviceId(i)), env))
            .ToList();
        try
        {
            var started = DateTime.UtcNow;
            await Parallel.ForEachAsync(devices, new ParallelOptions { MaxDegreeOfParallelism = settings.ConnectParallelism, CancellationToken = cancellationToken },
                async (d, ct) => await d.StartAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
            double connectSeconds = (DateTime.UtcNow - started).TotalSeconds;
            await replies.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"READY {devices.Count} {connectSeconds:F2}")).ConfigureAwait(false);
            await replies.FlushAsync(cancellationToken).ConfigureAwait(false);

            bool drained = false;
            while (await commands.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line == "stop")
                {
                    await Task.WhenAll(devices.Select(d => d.StopSensingAsync())).ConfigureAwait(false);
                    var results = await Task.WhenAll(devices.Select(d => d.WaitDrainedAsync(settings.DrainTimeout, cancellationToken))).ConfigureAwait(false);
                    drained = results.All(r => r);
                    break;
                }
                await Console.Error.WriteLineAsync($"worker {settings.First}: unknown command '{line}'").ConfigureAwait(false);
            }

            var report = new WorkerReport(settings.First, devices.Count, connectSeconds, drained, devices.Select(d =>
                new DeviceReport(d.Id, d.BootId, d.Commits.Snapshot(), d.Counters?.Windows ?? 0, d.Counters?.TelemetryCommitted ?? 0,
                    d.PendingEvents(), d.Mqtt.State.ToString(), d.Updates.Snapshot())).ToList());
            await File.WriteAllTextAsync(settings.ReportPath, JsonSerializer.Serialize(report, WorkerJsonContext.Default.WorkerReport), cancellationToken).ConfigureAwait(false);
            await replies.WriteLineAsync("DONE").ConfigureAwait(false);
            await replies.FlushAsync(cancellationToken).ConfigureAwait(false);
            return drained ? 0 : 3;
        }
        finally
        {
            await Task.WhenAll(devices.Select(async d => await d.DisposeAsync().ConfigureAwait(false))).ConfigureAwait(false);
        }
    }
}
