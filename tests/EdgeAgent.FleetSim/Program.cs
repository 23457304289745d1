// Fleet simulation (issue 8). N real agent instances in a few worker processes against a real Mosquitto and
// edgehub process(es); see docs/FLEET.md.
//   dotnet tests/EdgeAgent.FleetSim/bin/Release/net10.0/EdgeAgent.FleetSim.dll --devices 1000 --duration 60 \
//       [--rate 50] [--start-hub sqlite|postgres] [--hub-instances 2] [--workers W] [--out results.json]
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Fleet;

var devices = new Option<int>("--devices") { Description = "simulated devices", Required = true };
var rate = new Option<double>("--rate") { Description = "synthetic sensor rate per device, Hz (windows of 128, hop 64)", DefaultValueFactory = _ => 50 };
var duration = new Option<double>("--duration") { Description = "steady-state measurement window, seconds", DefaultValueFactory = _ => 60 };
var startHub = new Option<string>("--start-hub") { Description = "store of the hub(s) this run starts: sqlite or postgres", DefaultValueFactory = _ => "sqlite" };
var hubInstances = new Option<int>("--hub-instances") { Description = "edgehub processes sharing the shared subscription (2+ needs postgres)", DefaultValueFactory = _ => 1 };
var pgDurable = new Option<bool>("--postgres-durable") { Description = "PostgreSQL with fsync and synchronous commit (false: both off)", DefaultValueFactory = _ => true };
var workers = new Option<int>("--workers") { Description = "worker processes holding the devices (0: one per 500 devices)", DefaultValueFactory = _ => 0 };
var driftEvery = new Option<double>("--drift-interval") { Description = "seconds between drift sketch snapshots per device", DefaultValueFactory = _ => 30 };
var enginePerDevice = new Option<bool>("--engine-per-device") { Description = "one ONNX Runtime session per device instead of one per worker process" };
var connectParallelism = new Option<int>("--connect-parallelism") { Description = "devices connecting at once per worker", DefaultValueFactory = _ => 32 };
var stateRoot = new Option<string?>("--state") { Description = "directory for device state and logs (default: a temp directory, deleted afterwards)" };
var keep = new Option<bool>("--keep-state") { Description = "keep the temp directory (logs, outboxes, hub.db)" };
var outFile = new Option<string?>("--out") { Description = "write the results as JSON" };
var rolloutBytes = new Option<long>("--rollout-bytes") { Description = "model bytes of the release rolled out during the window (0: no releases, devices serve a built-in model)", DefaultValueFactory = _ => 1_000_000 };
var observeWindow = new Option<double>("--observe-window") { Description = "devices' health window before a commit, seconds", DefaultValueFactory = _ => 30 };
var observeMinCalls = new Option<int>("--observe-min-calls") { Description = "inferences the health window needs", DefaultValueFactory = _ => 3 };
var pollInterval = new Option<double>("--poll-interval") { Description = "devices' update poll interval, seconds (the fleet hint triggers checks sooner)", DefaultValueFactory = _ => 900 };

var root = new RootCommand("EdgeAgent fleet simulation: N agents, Mosquitto and edgehub on this machine")
{
    devices, rate, duration, startHub, hubInstances, pgDurable, workers, driftEvery, enginePerDevice, connectParallelism, stateRoot, keep, outFile,
    rolloutBytes, observeWindow, observeMinCalls, pollInterval,
};
root.SetAction(async (p, ct) =>
{
    if (!Enum.TryParse<HubStoreKind>(p.GetValue(startHub), ignoreCase: true, out var store))
    {
        await Console.Error.WriteLineAsync($"--start-hub '{p.GetValue(startHub)}': use sqlite or postgres");
        return 2;
    }
    var options = new FleetOptions
    {
        Devices = p.GetValue(devices),
        SampleRateHz = p.GetValue(rate),
        Duration = TimeSpan.FromSeconds(p.GetValue(duration)),
        Store = store,
        HubInstances = p.GetValue(hubInstances),
        PostgresDurable = p.GetValue(pgDurable),
        Workers = p.GetValue(workers),
        DriftSnapshotInterval = TimeSpan.FromSeconds(p.GetValue(driftEvery)),
        EnginePerDevice = p.GetValue(enginePerDevice),
        ConnectParallelism = p.GetValue(connectParallelism),
        StateRoot = p.GetValue(stateRoot),
        KeepState = p.GetValue(keep),
        RolloutModelBytes = p.GetValue(rolloutBytes),
        ObserveWindow = TimeSpan.FromSeconds(p.GetValue(observeWindow)),
        ObserveMinCalls = p.GetValue(observeMinCalls),
        PollInterval = TimeSpan.FromSeconds(p.GetValue(pollInterval)),
    };
    try
    {
        var result = await new FleetRunner(options, Console.Out).RunAsync(ct);
        string json = JsonSerializer.Serialize(result, FleetJsonContext.Default.FleetResult);
        if (p.GetValue(outFile) is { } path) await File.WriteAllTextAsync(path, json, ct);
        Console.WriteLine(json);
        if (!result.Ingest.ExactlyOnce)
        {
            await Console.Error.WriteLineAsync($"NOT exactly once: {result.Ingest.Missing} committed events missing at the hub, {result.Ingest.Unexpected} unexpected rows");
            return 1;
        }
        return 0;
    }
    catch (FleetConfigurationException e)
    {
        await Console.Error.WriteLineAsync(e.Message);
        return 2;
    }
});

// Internal: one worker process holding devices [first, first+count); driven over stdin/stdout by the coordinator.
var wFirst = new Option<int>("--first") { Required = true };
var wCount = new Option<int>("--count") { Required = true };
var wBroker = new Option<string>("--broker") { Required = true };
var wState = new Option<string>("--state") { Required = true };
var wReport = new Option<string>("--report") { Required = true };
var wHub = new Option<string?>("--hub-url") { Description = "take models from this hub's rollouts" };
var wRoot = new Option<string?>("--trusted-root") { Description = "the TUF root the devices trust (with --hub-url)" };
var worker = new Command("worker", "internal: a slice of the fleet, driven by the coordinator over stdin/stdout")
{
    wFirst, wCount, wBroker, wState, wReport, rate, driftEvery, enginePerDevice, connectParallelism, wHub, wRoot, observeWindow, observeMinCalls, pollInterval,
};
worker.Hidden = true;
worker.SetAction(async (p, ct) =>
{
    string broker = p.GetValue(wBroker)!;
    int colon = broker.LastIndexOf(':');
    var settings = new WorkerSettings
    {
        First = p.GetValue(wFirst),
        Count = p.GetValue(wCount),
        BrokerHost = broker[..colon],
        BrokerPort = int.Parse(broker[(colon + 1)..], CultureInfo.InvariantCulture),
        StateRoot = p.GetValue(wState)!,
        ReportPath = p.GetValue(wReport)!,
        SampleRateHz = p.GetValue(rate),
        DriftSnapshotInterval = TimeSpan.FromSeconds(p.GetValue(driftEvery)),
        EnginePerDevice = p.GetValue(enginePerDevice),
        ConnectParallelism = p.GetValue(connectParallelism),
        Updates = p.GetValue(wHub) is { } hub
            ? new DeviceUpdateSettings(new Uri(hub), p.GetValue(wRoot) ?? throw new ArgumentException("--hub-url needs --trusted-root"),
                TimeSpan.FromSeconds(p.GetValue(observeWindow)), p.GetValue(observeMinCalls), TimeSpan.FromSeconds(p.GetValue(pollInterval)))
            : null,
    };
    return await new DeviceWorker(settings).RunAsync(Console.In, Console.Out, ct);
});
root.Subcommands.Add(worker);

return await root.Parse(args).InvokeAsync();
