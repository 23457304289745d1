using System.Net;
using System.Text.Json;
using EdgeAgent.Chaos.Checks;
using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Chaos.Rig;

/// <summary>
/// The telemetry path as deployed: agent daemon → (chaos proxy) → Mosquitto with persistence →
/// edgehub (SQLite store), with a <see cref="CommitWitness"/> on the agent. Scenarios inject their
/// fault through the parts, then call <see cref="VerifyRecoveryAsync"/>, which checks the agent
/// recovers by itself and that every committed event is accounted for. Dispose tears everything down.
/// </summary>
public sealed class TelemetryRig : IAsyncDisposable
{
    public const string DeviceId = "chaos-dev-1";

    /// <summary>Outbox depth that counts as "drained": what the agent appends in about a second (3200 Hz, hop 64).</summary>
    public const long RecoveredDepth = 60;

    private TelemetryRig(ChaosRun run, MosquittoBroker broker, TcpChaosProxy? proxy, HubProcess hub, AgentDaemon agent)
    {
        Run = run;
        Broker = broker;
        Proxy = proxy;
        Hub = hub;
        Agent = agent;
        Witness = new CommitWitness(agent);
    }

    public ChaosRun Run { get; }
    public MosquittoBroker Broker { get; }
    public TcpChaosProxy? Proxy { get; }
    public HubProcess Hub { get; }
    public AgentDaemon Agent { get; }
    public CommitWitness Witness { get; }

    /// <summary>How the rig is put together.</summary>
    public sealed record Options
    {
        /// <summary>Route the agent's MQTT through a <see cref="TcpChaosProxy"/>.</summary>
        public bool Proxy { get; init; }
        public string? AgentStateDirectory { get; init; }
        public long OutboxBudgetBytes { get; init; } = 64L * 1024 * 1024;
        public IReadOnlyDictionary<string, string>? AgentEnvironment { get; init; }
    }

    public static async Task<TelemetryRig> StartAsync(ChaosRun run, Options options, CancellationToken ct)
    {
        var broker = await StartBrokerAsync(run).ConfigureAwait(false);
        TcpChaosProxy? proxy = null;
        HubProcess? hub = null;
        try
        {
            proxy = options.Proxy ? new TcpChaosProxy(new IPEndPoint(IPAddress.Loopback, broker.Port)) : null;
            hub = await HubProcess.StartAsync(run.Subdirectory("hub"), broker.Port, ct).ConfigureAwait(false);
            var agent = await AgentDaemon.CreateAsync(run.Subdirectory("agent"), new AgentDaemon.Options
            {
                DeviceId = DeviceId,
                MqttPort = proxy?.Port ?? broker.Port,
                StateDirectory = options.AgentStateDirectory,
                OutboxBudgetBytes = options.OutboxBudgetBytes,
                Environment = options.AgentEnvironment,
            }, ct).ConfigureAwait(false);
            var rig = new TelemetryRig(run, broker, proxy, hub, agent);
            agent.Start();
            await rig.Witness.WaitForBootAsync(null, TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            run.Log($"rig up: broker :{broker.Port}{(proxy is null ? "" : $", proxy :{proxy.Port}")}, hub :{hub.Port}, agent pid {agent.ProcessId}");
            return rig;
        }
        catch
        {
            if (hub is not null) await hub.DisposeAsync().ConfigureAwait(false);
            if (proxy is not null) await proxy.DisposeAsync().ConfigureAwait(false);
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The suite's Mosquitto: persistence on, like a deployment (sessions and queued QoS 1 messages survive a
    /// restart), with the debug switches of docs/CHAOS.md read from the environment.
    /// </summary>
    public static Task<MosquittoBroker> StartBrokerAsync(ChaosRun run)
    {
        // EDGEAGENT_CHAOS_BROKER_DEBUG=1 logs every packet to mosquitto-debug.log in the log directory
        // (a file survives SIGKILL; the broker's block-buffered stdout does not).
        var debug = Environment.GetEnvironmentVariable("EDGEAGENT_CHAOS_BROKER_DEBUG") == "1";
        var extra = new List<string>();
        if (debug) extra.AddRange(["log_type all", $"log_dest file {Path.Combine(run.LogDirectory, "mosquitto-debug.log")}"]);
        // EDGEAGENT_CHAOS_BROKER_SAVE_EACH_CHANGE=1: Mosquitto writes its persistence file after every change
        // (autosave_on_changes), the most durable broker configuration (docs/CHAOS.md, bug 3).
        if (Environment.GetEnvironmentVariable("EDGEAGENT_CHAOS_BROKER_SAVE_EACH_CHANGE") == "1") extra.AddRange(["autosave_on_changes true", "autosave_interval 1"]);
        return MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Persistence = true, ExtraConfig = extra });
    }

    /// <summary>Lets the agent work (telemetry flowing) for <paramref name="duration"/>.</summary>
    public static Task LoadAsync(TimeSpan duration, CancellationToken ct) => Task.Delay(duration, ct);

    /// <summary>Restarts the agent after a kill and waits until a new boot answers.</summary>
    public async Task<OutboxSnapshot> RestartAgentAsync(CancellationToken ct)
    {
        var previous = Witness.Last?.BootId;
        Agent.Start();
        return await Witness.WaitForBootAsync(previous, TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The end of every telemetry scenario, after the fault is gone: (1) the agent recovers by itself —
    /// <c>edgeagent status --json</c> shows it ready, serving the installed model, MQTT connected and
    /// the backlog drained (depth ≤ <see cref="RecoveredDepth"/>, about one second of events) within <paramref name="recoveryTimeout"/>; (2) it stops
    /// cleanly on SIGTERM; (3) the hub catches up and the accounting balances (<see cref="DeliveryCheck"/>);
    /// (4) the outbox and hub SQLite files pass <c>PRAGMA integrity_check</c>. Problems go to the run.
    /// </summary>
    /// <param name="recoveryTimeout">How long the agent may take to recover after the fault ended.</param>
    /// <param name="ct">Cancels the checks (not the teardown).</param>
    /// <param name="cleanExitExpected">
    /// False under libfaketime: with FAKETIME_DONT_FAKE_MONOTONIC=1 the same agent binary exits 143 instead of 0
    /// on SIGTERM even at offset +0 (checked by hand: 0 without the preload), an artefact of the preload, not of the agent.
    /// </param>
    public async Task<DeliveryReport> VerifyRecoveryAsync(TimeSpan recoveryTimeout, CancellationToken ct, bool cleanExitExpected = true)
    {
        var (recovered, status, last, elapsed) = await Agent.WaitForRecoveryAsync($"{AgentDaemon.ModelName} {AgentDaemon.ModelVersion}", RecoveredDepth, recoveryTimeout, ct).ConfigureAwait(false);
        Run.Log($"recovery: {(recovered ? "yes" : "NO")} after {elapsed.TotalSeconds:0.0} s ({last})");
        Run.Check(recovered, $"the agent did not recover by itself within {recoveryTimeout.TotalSeconds:0} s of the fault ending: {last}");
        Run.Check(Agent.IsRunning, "the agent process is not running");
        if (status is { } st) await File.WriteAllTextAsync(Path.Combine(Run.LogDirectory, "agent-status.json"), st.ToString(), ct).ConfigureAwait(false);
        RecoverySeconds = elapsed.TotalSeconds;

        int exit = await Agent.StopAsync().ConfigureAwait(false);
        if (cleanExitExpected) Run.Check(exit == 0, $"the agent exited with {exit} on SIGTERM (expected 0)");
        else Run.Log($"agent exit code on SIGTERM: {exit} (not checked under libfaketime)");

        // The hub may still be draining what the broker holds for it.
        await DeliveryCheck.AwaitCatchUpAsync(Hub.StorePath, Agent.OutboxPath, DeviceId, Witness, TimeSpan.FromSeconds(Run.IsShort ? 15 : 30), ct).ConfigureAwait(false);
        await Hub.StopAsync().ConfigureAwait(false);
        var report = DeliveryCheck.Judge(Run, Hub.StorePath, Agent.OutboxPath, DeviceId, Witness);
        CheckIntegrity(Run, ("outbox", Agent.OutboxPath), ("hub store", Hub.StorePath));
        return report;
    }

    /// <summary>Records a problem for every SQLite file that fails <c>PRAGMA integrity_check</c>.</summary>
    public static void CheckIntegrity(ChaosRun run, params (string Name, string Path)[] files)
    {
        foreach (var (name, path) in files)
        {
            var integrity = SqliteFiles.IntegrityProblems(path);
            run.Check(integrity.Count == 0, $"{name} {path} fails PRAGMA integrity_check: {string.Join("; ", integrity.Take(3))}");
        }
    }

    /// <summary>Seconds the agent took to recover in <see cref="VerifyRecoveryAsync"/>.</summary>
    public double RecoverySeconds { get; private set; }

    /// <summary>Copies the broker's log into the log directory (the broker fixture keeps it in memory).</summary>
    public static async Task SaveBrokerLogAsync(ChaosRun run, MosquittoBroker broker)
    {
        try { await File.WriteAllTextAsync(Path.Combine(run.LogDirectory, "mosquitto.log"), broker.Log).ConfigureAwait(false); }
        catch (IOException) { }
    }

    /// <summary>Tears every process down even when one part fails to (no orphaned brokers, hubs or agents).</summary>
    public async ValueTask DisposeAsync()
    {
        var failures = new List<Exception>();
        async Task Try(Func<ValueTask> dispose)
        {
            try { await dispose().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        await Try(() => Witness.DisposeAsync());
        await Try(() => Agent.DisposeAsync());
        await Try(() => Hub.DisposeAsync());
        if (Proxy is not null) await Try(() => Proxy.DisposeAsync());
        await Try(() => Broker.DisposeAsync());
        await SaveBrokerLogAsync(Run, Broker).ConfigureAwait(false); // after the stop: the broker's stdout is block-buffered
        if (failures.Count > 0) throw new AggregateException("tearing the chaos rig down failed", failures);
    }
}
