using System.Diagnostics;
using EdgeAgent.Demo;
using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Infrastructure;
using EdgeAgent.FleetSim.Measurement;
using EdgeAgent.Hub.Tests.Fixtures;

namespace EdgeAgent.FleetSim.Fleet;

/// <summary>
/// The coordinator: starts Mosquitto, the store (SQLite file or a PostgreSQL server), one or more
/// <c>edgehub serve</c> processes, and the worker processes holding the devices; measures the steady-state
/// window; stops the devices, waits until the hub stored everything they committed, and compares.
/// With a rollout (<see cref="FleetOptions.RolloutModelBytes"/>): release keys are created (<c>edgehub keys init</c>), the
/// hubs sign with them, the devices are registered with a cohort label, releases 1.0.0 and 2.0.0 are registered and
/// published; the devices start without a model and a first rollout installs 1.0.0 on all of them; the measured rollout
/// of 2.0.0 starts with the window and runs while telemetry flows (the window is extended until it ends).
/// </summary>
/// <remarks>Everything it starts is stopped and (unless <see cref="FleetOptions.KeepState"/>) deleted on the way out,
/// also when the run fails. One run per instance; not thread-safe.</remarks>
public sealed class FleetRunner(FleetOptions options, TextWriter progress)
{
    public const string DevicePrefix = "fleet-";

    public async Task<FleetResult> RunAsync(CancellationToken ct)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new FleetConfigurationException(problems);
        string root = options.StateRoot ?? Path.Combine(Path.GetTempPath(), "edgeagent-fleet-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        double loadBefore = ProcessSampler.LoadAverage();
        var total = Stopwatch.StartNew();

        await using var broker = await FleetBroker.StartAsync(countDeliveries: options.HubInstances > 1).ConfigureAwait(false);
        PostgresServer? postgres = null;
        var hubs = new List<HubInstance>();
        var workers = new List<WorkerProcess>();
        try
        {
            string store;
            if (options.Store == HubStoreKind.Postgres)
            {
                postgres = await PostgresServer.StartAsync(durable: options.PostgresDurable).ConfigureAwait(false);
                store = "postgres:" + await postgres.CreateDatabaseAsync("edgehub").ConfigureAwait(false);
            }
            else
            {
                store = "sqlite:" + Path.Combine(root, "hub.db");
            }
            string? token = null;
            string[] hubArguments = [];
            if (options.WithRollout)
            {
                await HubInstance.RunCommandAsync(["keys", "init", "--out", Path.Combine(root, "keys")], ct).ConfigureAwait(false);
                token = (await HubInstance.RunCommandAsync(["tokens", "create", "--role", "admin", "--name", "fleet-sim", "--store", store], ct).ConfigureAwait(false))
                    .Trim().Split('\n')[^1].Trim();
                hubArguments = ["--trust-dir", Path.Combine(root, "keys", "online"), "--model-cache", Path.Combine(root, "hub-models")];
            }
            // One instance first: it applies the schema migrations; the others then start on a migrated store.
            for (int i = 1; i <= options.HubInstances; i++)
                hubs.Add(await HubInstance.StartAsync(i, store, broker.Host, broker.Port, root, hubArguments, ct).ConfigureAwait(false));
            progress.WriteLine($"broker :{broker.Port}, {hubs.Count} hub(s) on {options.Store}, starting {options.Devices} devices in {options.EffectiveWorkers} worker(s)");

            using var api = token is null ? null : new HubApi(hubs[0].BaseAddress, token);
            var rollouts = api is null ? null : new FleetRollouts(api, progress);
            long firstBytes = 0, rolloutBytes = 0;
            if (rollouts is not null)
            {
                await rollouts.RegisterDevicesAsync(Enumerable.Range(0, options.Devices).Select(WorkerSettings.DeviceId), ct).ConfigureAwait(false);
                firstBytes = await rollouts.PublishAsync(FleetReleases.First(options.SampleRateHz), ct).ConfigureAwait(false);
                rolloutBytes = await rollouts.PublishAsync(FleetReleases.Sized(options.RolloutModelBytes, options.SampleRateHz), ct).ConfigureAwait(false);
            }

            int per = (options.Devices + options.EffectiveWorkers - 1) / options.EffectiveWorkers;
            for (int first = 0; first < options.Devices; first += per)
            {
                var s = new WorkerSettings
                {
                    First = first,
                    Count = Math.Min(per, options.Devices - first),
                    BrokerHost = broker.Host,
                    BrokerPort = broker.Port,
                    StateRoot = Path.Combine(root, "devices"),
                    ReportPath = Path.Combine(root, $"worker-{first}.json"),
                    SampleRateHz = options.SampleRateHz,
                    DriftSnapshotInterval = options.DriftSnapshotInterval,
                    EnginePerDevice = options.EnginePerDevice,
                    ConnectParallelism = options.ConnectParallelism,
                    // Workers spread over the hub instances: the TUF and bundle downloads share the load too.
                    Updates = options.WithRollout
                        ? new DeviceUpdateSettings(hubs[workers.Count % hubs.Count].BaseAddress, Path.Combine(root, "keys", "online", "1.root.json"),
                            options.ObserveWindow, options.ObserveMinCalls, options.PollInterval)
                        : null,
                };
                workers.Add(WorkerProcess.Start(s, root));
            }
            var startup = Stopwatch.StartNew();
            await Task.WhenAll(workers.Select(w => w.ExpectAsync("READY", TimeSpan.FromMinutes(5), ct))).ConfigureAwait(false);
            double startupSeconds = startup.Elapsed.TotalSeconds;
            progress.WriteLine($"all {options.Devices} devices connected{(rollouts is null ? " and serving" : "")} after {startupSeconds:F1} s; broker reports {broker.Connected} clients");
            (RolloutResult Result, long StartedAtMs)? firstInstall = null, measured = null;
            if (rollouts is not null)
            {
                firstInstall = await rollouts.RunAsync("1.0.0", firstBytes, options.RolloutQuorum, options.RolloutTimeout, ct).ConfigureAwait(false);
                if (firstInstall.Value.Result.State != "completed")
                    throw new InvalidOperationException($"the first install did not complete: {firstInstall.Value.Result.State} {firstInstall.Value.Result.Reason} (see hub-1.log, worker-*.log)");
            }

            var pids = new Dictionary<string, int> { ["broker"] = broker.ProcessId };
            foreach (var h in hubs) pids[h.ClientId] = h.ProcessId;
            foreach (var w in workers) pids[$"worker-{w.First}"] = w.ProcessId;
            await using var sampler = new ProcessSampler(pids, TimeSpan.FromSeconds(1));
            var reader = new HubStoreReader(store, DevicePrefix);

            sampler.MarkWindowStart();
            long windowStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long storedAtStart = await reader.CountEventsAsync(ct).ConfigureAwait(false);
            var measuredRun = rollouts?.RunAsync("2.0.0", rolloutBytes, options.RolloutQuorum, options.RolloutTimeout, ct);
            await Task.Delay(options.Duration, ct).ConfigureAwait(false);
            long windowEnd = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long storedAtEnd = await reader.CountEventsAsync(ct).ConfigureAwait(false);
            long connectedAtEnd = broker.Connected;
            sampler.MarkWindowEnd();
            double loadDuring = ProcessSampler.LoadAverage();
            // The devices keep sensing until the rollout ended: their health windows need live inferences.
            if (measuredRun is not null) measured = await measuredRun.ConfigureAwait(false);
            progress.WriteLine($"window of {options.Duration.TotalSeconds:F0} s over; stopping sensors and draining");

            foreach (var w in workers) await w.SendAsync("stop").ConfigureAwait(false);
            await Task.WhenAll(workers.Select(w => w.ExpectAsync("DONE", TimeSpan.FromMinutes(4), ct))).ConfigureAwait(false);
            var reports = new List<WorkerReport>();
            foreach (var w in workers) reports.Add(await w.ReadReportAsync().ConfigureAwait(false));
            var devices = reports.SelectMany(r => r.Devices).ToList();
            long committed = devices.Sum(d => d.Commits.Sum(c => c.Last - c.First + 1));

            // The hub may still be working through the broker's queue for it.
            // A hub that stopped making progress for StallTimeout will not catch up: stop waiting and report it.
            var wait = Stopwatch.StartNew();
            var sinceProgress = Stopwatch.StartNew();
            long stored, previous = -1;
            while ((stored = await reader.CountEventsAsync(ct).ConfigureAwait(false)) < committed
                   && wait.Elapsed < options.IngestTimeout && sinceProgress.Elapsed < options.StallTimeout)
            {
                if (stored != previous) { previous = stored; sinceProgress.Restart(); }
                await Task.Delay(250, ct).ConfigureAwait(false);
            }
            double catchUpSeconds = wait.Elapsed.TotalSeconds;
            bool stalled = stored < committed;
            var rows = await reader.ReadEventsAsync(ct).ConfigureAwait(false);
            var ingest = IngestSummary.Compute(devices, rows, windowStart, windowEnd, TimeSpan.FromSeconds(10));
            var split = options.HubInstances > 1
                ? broker.DeliveriesByClient(c => c.StartsWith("edgehub-", StringComparison.Ordinal))
                : null;
            var result = new FleetResult
            {
                Devices = options.Devices,
                Workers = workers.Count,
                HubInstances = hubs.Count,
                Store = options.Store == HubStoreKind.Postgres && !options.PostgresDurable ? "postgres (fsync off)" : options.Store.ToString().ToLowerInvariant(),
                SampleRateHz = options.SampleRateHz,
                EnginePerDevice = options.EnginePerDevice,
                WindowSeconds = options.Duration.TotalSeconds,
                StartupSeconds = Math.Round(startupSeconds, 1),
                BrokerConnectionsPeak = broker.ConnectedPeak,
                BrokerConnectionsAtEnd = connectedAtEnd,
                Processes = sampler.Results(),
                HubIngestPerSecond = Math.Round((storedAtEnd - storedAtStart) / ((windowEnd - windowStart) / 1000.0), 1),
                Ingest = ingest,
                GapsRecorded = await reader.CountGapsAsync(ct).ConfigureAwait(false),
                RejectedTelemetryMessages = await reader.CountRejectedAsync("telemetry", ct).ConfigureAwait(false),
                RejectedDriftMessages = await reader.CountRejectedAsync("drift", ct).ConfigureAwait(false),
                FirstRejection = await reader.FirstRejectionReasonAsync(ct).ConfigureAwait(false),
                CatchUpSeconds = Math.Round(catchUpSeconds, 1),
                HubStalled = stalled,
                HubMqttReconnects = hubs.ToDictionary(h => h.ClientId, h => h.MqttReconnects),
                AllDrained = reports.All(r => r.Drained),
                DeliveriesByHub = split,
                LoadAverageBefore = loadBefore,
                LoadAverageDuring = loadDuring,
                TotalSeconds = Math.Round(total.Elapsed.TotalSeconds, 1),
                FirstInstall = firstInstall?.Result.WithDevices(devices, firstInstall.Value.StartedAtMs, measured?.StartedAtMs ?? long.MaxValue),
                Rollout = measured?.Result.WithDevices(devices, measured.Value.StartedAtMs),
                DeviceReports = devices,
            };
            return result;
        }
        finally
        {
            await broker.SaveLogAsync(Path.Combine(root, "mosquitto.log")).ConfigureAwait(false);
            foreach (var w in workers) await w.DisposeAsync().ConfigureAwait(false);
            foreach (var h in hubs) await h.DisposeAsync().ConfigureAwait(false);
            if (postgres is not null) await postgres.DisposeAsync().ConfigureAwait(false);
            if (!options.KeepState && options.StateRoot is null)
            {
                try { Directory.Delete(root, recursive: true); }
                catch (IOException) { }
            }
        }
    }
}

/// <summary>The fleet options are unusable; one line per problem.</summary>
public sealed class FleetConfigurationException(IReadOnlyList<string> problems)
    : Exception("fleet simulation options are invalid:\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
