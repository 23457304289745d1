using System.Text.Json;
using System.Threading.Channels;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// The agent's update loop (DESIGN §6, issue 5): a reconcile loop from "the hub assigned release X" to
/// "X serves here, committed". Each check refreshes TUF metadata, reads this device's assignment target
/// <c>assignments/&lt;deviceId&gt;.json</c> through the TUF client (length and hash pinned by signed metadata),
/// and hands each family's assigned bundle to that family's <see cref="UpdateManager"/>.
/// </summary>
/// <remarks>
/// <para><b>Triggers</b> (coalesced: requests that arrive while a check is queued join it): the poll timer
/// (<see cref="UpdatesOptions.PollInterval"/> ± jitter), the retained fleet hint and <c>check-update</c> on the
/// device's <c>cmd</c> topic (<see cref="AttachMqtt"/>), and the control socket (<see cref="RequestCheck"/>).</para>
/// <para><b>Offline is normal:</b> an unreachable server is logged once (and once when it is back), the next
/// check is scheduled with exponential backoff, and the service keeps serving. Nothing here throws out of
/// <see cref="RunAsync"/> except cancellation.</para>
/// <para><b>First install:</b> with no model installed, the first assigned release is activated straight into a
/// slot; <see cref="WaitForFirstModelAsync"/> completes (and <see cref="FirstModelActivated"/> fires) so the host
/// starts serving it, then the host calls <see cref="AttachEngine"/> and the health window judges it as usual.</para>
/// <para><b>Threading:</b> one worker runs checks and rollbacks one at a time (the managers are not thread safe);
/// every public member may be called from any thread.</para>
/// </remarks>
public sealed partial class UpdateLoop : IAsyncDisposable
{
    /// <summary>Retained "new timestamp metadata exists" hint (DESIGN §5); a hint only: trust comes from metadata.</summary>
    public const string HintTopic = "edgeagent/v1/fleet/hint";

    private readonly UpdatesOptions _options;
    private readonly string _deviceId;
    private readonly string _modelStore;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly HttpTufFetcher? _ownedFetcher;
    private readonly ITufFetcher _fetcher;
    private readonly TufClient _tuf;
    private readonly UpdateLoopEventSink _events;
    private readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<InstalledModel> _firstModel = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CheckWork? _queuedCheck;
    private long _checkIds, _checksCompleted;
    private CancellationTokenSource? _applying;
    private string? _applyingFamily;
    private string _state = "starting";
    private UpdateCheckResult? _lastCheck;
    private UpdateEvent? _lastEvent;
    private string? _lastError;
    private DateTimeOffset? _nextCheckAt;
    private bool _offline;
    private int _failures;
    private string? _refusedAssignment;
    private int _mqttSubscribed, _mqttListening;

    /// <summary>
    /// Builds the loop (no I/O yet). <paramref name="modelStoreDirectory"/> holds one directory per family;
    /// <paramref name="outbox"/> receives update events and must outlive <see cref="RunAsync"/> (owned by the caller);
    /// <paramref name="fetcher"/> null creates (and owns) an <see cref="HttpTufFetcher"/>.
    /// </summary>
    public UpdateLoop(UpdatesOptions options, string deviceId, string modelStoreDirectory, TelemetryOutbox outbox,
        ILoggerFactory? loggers = null, TimeProvider? time = null, ITufFetcher? fetcher = null)
    {
        DeviceAssignmentLayout.TargetPath(deviceId); // validates the id once, with the contract's message
        _options = options;
        _deviceId = deviceId;
        _modelStore = modelStoreDirectory;
        _log = (loggers ?? NullLoggerFactory.Instance).CreateLogger<UpdateLoop>();
        _time = time ?? TimeProvider.System;
        _fetcher = fetcher ?? (_ownedFetcher = new HttpTufFetcher(time: _time));
        _tuf = new TufClient(new TufClientOptions
        {
            MetadataDirectory = options.MetadataDirectory,
            MetadataBaseUri = options.MetadataUrl,
            TargetBaseUri = options.TargetBaseUrl,
        }, _fetcher, _time);
        _events = new UpdateLoopEventSink(outbox, _log, Observed);
    }

    /// <summary>Raised when the first model of this device was activated (nothing served before): start serving it.</summary>
    public event Action<InstalledModel>? FirstModelActivated;

    /// <summary>Raised after each update transition is persisted and queued for the hub (on the loop's thread; keep handlers short).</summary>
    public event Action<UpdateEvent>? Transition;

    /// <summary>Completes when a first install activated a model; the host serves it and calls <see cref="AttachEngine"/>.</summary>
    public Task<InstalledModel> WaitForFirstModelAsync(CancellationToken cancellationToken) => _firstModel.Task.WaitAsync(cancellationToken);

    /// <summary>Hands over the engine serving <paramref name="family"/>; later releases are hot-swapped into it.</summary>
    public void AttachEngine(string family, InferenceEngine engine)
    {
        var f = GetFamily(family);
        f.Manager.AttachEngine(engine);
        f.EngineAttached.TrySetResult();
    }

    /// <summary>The per-inference hook to put in <see cref="InferencePipelineOptions.InferenceObserver"/> for <paramref name="family"/>'s pipeline.</summary>
    public IInferenceObserver ObserverFor(string family) => GetFamily(family).Observer;

    /// <summary>The health monitor of <paramref name="family"/> (shadow runs and health windows read it).</summary>
    public ModelHealthMonitor HealthOf(string family) => GetFamily(family).Health;

    /// <summary>True once the fleet hint and cmd subscriptions were granted by the broker.</summary>
    public bool ListensOnMqtt => Volatile.Read(ref _mqttListening) == 1;

    /// <summary>Current state (phase, target, download progress, last check, last error).</summary>
    public UpdateLoopStatus Status
    {
        get
        {
            string state;
            string? family;
            UpdateCheckResult? lastCheck;
            UpdateEvent? lastEvent;
            string? lastError;
            DateTimeOffset? next;
            Family? applying;
            lock (_gate)
            {
                (state, family, lastCheck, lastEvent, lastError, next) = (_state, _applyingFamily, _lastCheck, _lastEvent, _lastError, _nextCheckAt);
                applying = family is null ? null : _families.GetValueOrDefault(family);
            }
            UpdateRecord? record = null;
            try { record = applying?.Manager.Current; }
            catch (UpdateStateException e) { lastError = e.Message; }
            bool downloading = record?.Phase == UpdatePhase.Downloading;
            return new UpdateLoopStatus(state, family, record?.Phase.Wire(), record?.TargetPath, record?.Version,
                downloading ? record!.DownloadCheckpoint : null, downloading ? record!.TargetLength : null,
                lastCheck, lastEvent, lastError, next, Interlocked.Read(ref _checkIds), Interlocked.Read(ref _checksCompleted));
        }
    }

    /// <summary>
    /// Asks for a check as soon as the worker is free and returns its id and the task of its result. A request
    /// made while another check is still queued joins it (one check answers both).
    /// </summary>
    public (long Id, Task<UpdateCheckResult> Result) RequestCheck(string trigger)
    {
        lock (_gate)
        {
            if (_queuedCheck is { } queued) return (queued.Id, queued.Done.Task);
            var work = new CheckWork(Interlocked.Increment(ref _checkIds), trigger, new(TaskCreationOptions.RunContinuationsAsynchronously));
            _queuedCheck = work;
            _work.Writer.TryWrite(work);
            return (work.Id, work.Done.Task);
        }
    }

    /// <summary>
    /// Rolls <paramref name="family"/> back to its previous slot (null: the only installed family). An update of that
    /// family still downloading or being observed is stopped first. Throws <see cref="RollbackUnavailableException"/>
    /// when there is nothing to roll back to.
    /// </summary>
    public Task<UpdateOutcome> RequestRollbackAsync(string? family, string reason, CancellationToken cancellationToken)
    {
        if (family is not null && !BundleLayout.IsName(family))
            throw new RollbackUnavailableException($"'{family}' is not a model family name (letters, digits, '.', '_', '-').");
        var work = new RollbackWork(family, reason, new(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_gate)
        {
            // The worker may sit in a health window for minutes: the operator's rollback must not wait for it.
            if (_applying is { } applying && (family is null || family == _applyingFamily)) applying.Cancel();
        }
        _work.Writer.TryWrite(work);
        return work.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Subscribes to the fleet hint and this device's <c>cmd</c> topic (now if connected, else at the next connect;
    /// the client re-subscribes after reconnects) and chains the client's message handler: messages on those
    /// topics trigger checks and rollbacks, every other message goes to the handler that was set before.
    /// </summary>
    public void AttachMqtt(MqttClient client)
    {
        var previous = client.MessageHandler;
        var cmdTopic = $"edgeagent/v1/{_deviceId}/cmd";
        client.MessageHandler = async (message, ct) =>
        {
            if (message.Topic == HintTopic) RequestCheck("fleet-hint");
            else if (message.Topic != cmdTopic || !HandleCommand(message.Payload.Span))
            {
                if (previous is not null) await previous(message, ct).ConfigureAwait(false);
            }
        };
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Connected) _ = SubscribeAsync(client, cmdTopic);
        };
        if (client.State == MqttConnectionState.Connected) _ = SubscribeAsync(client, cmdTopic);
    }

    private async Task SubscribeAsync(MqttClient client, string cmdTopic)
    {
        if (Interlocked.CompareExchange(ref _mqttSubscribed, 1, 0) != 0) return;
        try
        {
            var result = await client.SubscribeAsync([new MqttTopicSubscription(HintTopic, MqttQualityOfService.AtLeastOnce),
                new MqttTopicSubscription(cmdTopic, MqttQualityOfService.AtLeastOnce)]).ConfigureAwait(false);
            if (!result.AllSucceeded) throw new InvalidOperationException($"the broker refused the subscription ({string.Join(", ", result.ReasonCodes)})");
            Volatile.Write(ref _mqttListening, 1);
            _log.LogInformation("Update loop listens on {Hint} and {Cmd}", HintTopic, cmdTopic);
        }
        catch (Exception e)
        {
            Volatile.Write(ref _mqttSubscribed, 0); // retried at the next connect; polling covers the gap
            _log.LogWarning("Update loop could not subscribe to {Hint} and {Cmd} ({Reason}); polling continues, retrying at the next connect", HintTopic, cmdTopic, e.Message);
        }
    }

    /// <summary>True when the command was ours (check-update, rollback).</summary>
    private bool HandleCommand(ReadOnlySpan<byte> payload)
    {
        string? command, family = null, reason = null;
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("command", out var c) || c.ValueKind != JsonValueKind.String)
                return false;
            command = c.GetString();
            if (doc.RootElement.TryGetProperty("family", out var f) && f.ValueKind == JsonValueKind.String) family = f.GetString();
            if (doc.RootElement.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String) reason = r.GetString();
        }
        catch (JsonException)
        {
            return false; // not ours to judge: the next handler (or nobody) reports it
        }
        switch (command)
        {
            case "check-update":
                RequestCheck("cmd");
                return true;
            case "rollback":
                _ = RollbackFromHubAsync(family, reason ?? "rollback command from the hub");
                return true;
            default:
                return false;
        }
    }

    private async Task RollbackFromHubAsync(string? family, string reason)
    {
        try { await RequestRollbackAsync(family, reason, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception e) when (e is RollbackUnavailableException or UpdateStateException)
        {
            SetError($"rollback command refused: {e.Message}");
            _log.LogWarning("Rollback command from the hub refused: {Reason}", e.Message);
        }
    }

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/>: initialises trust, waits (bounded) for the host to attach the
    /// engines of installed models, finishes what a power cut interrupted, then serves triggers and the poll timer.
    /// Returns when cancelled; never throws for network, trust or update failures (they are reported).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await StartAsync(cancellationToken).ConfigureAwait(false);
            var next = _time.GetUtcNow();
            SetState("idle", next);
            while (!cancellationToken.IsCancellationRequested)
            {
                var work = await NextWorkAsync(next, cancellationToken).ConfigureAwait(false);
                if (work is RollbackWork rollback)
                {
                    await RollbackAsync(rollback, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var check = work as CheckWork;
                lock (_gate) if (_queuedCheck == check) _queuedCheck = null;
                check ??= new CheckWork(Interlocked.Increment(ref _checkIds), _checksCompleted == 0 ? "start" : "poll", new(TaskCreationOptions.RunContinuationsAsynchronously));
                var result = await CheckAsync(check, cancellationToken).ConfigureAwait(false);
                lock (_gate) _lastCheck = result;
                Interlocked.Increment(ref _checksCompleted);
                check.Done.TrySetResult(result);
                next = _time.GetUtcNow() + NextDelay(result);
                SetState(_offline ? "offline" : "idle", next);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Nobody will answer queued requests any more.
            while (_work.Reader.TryRead(out var left))
            {
                if (left is CheckWork c) c.Done.TrySetCanceled(cancellationToken);
                else if (left is RollbackWork r) r.Done.TrySetCanceled(cancellationToken);
            }
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var anyInstalled = false;
        if (Directory.Exists(_modelStore))
        {
            foreach (var dir in Directory.GetDirectories(_modelStore).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (!BundleLayout.IsName(name)) continue;
                InstalledModel? installed;
                try { installed = UpdateManager.OpenActive(dir); }
                catch (UpdateStateException e)
                {
                    SetError(e.Message);
                    _log.LogError("Model family {Family}: {Reason}", name, e.Message);
                    continue;
                }
                var family = GetFamily(name);
                if (installed is null) continue;
                anyInstalled = true;
                family.TrackInputs(installed);
                // An interrupted activation or health window needs the serving engine: give the host time to attach it.
                try { await family.EngineAttached.Task.WaitAsync(_options.EngineWaitTimeout, _time, cancellationToken).ConfigureAwait(false); }
                catch (TimeoutException)
                {
                    _log.LogWarning("Model family {Family}: no serving engine attached within {Timeout}; updates are installed and served after a restart", name, _options.EngineWaitTimeout);
                }
            }
        }
        // Only a device that served nothing at start waits for a first model (WaitForFirstModelAsync).
        lock (_gate) _firstModelPossible = !anyInstalled;
        foreach (var family in FamiliesSnapshot())
        {
            try
            {
                if (await family.Manager.ResumeAsync(cancellationToken).ConfigureAwait(false) is { } resumed)
                    _log.LogInformation("Model family {Family}: resumed update of {Version} ended {Phase}", family.Name, resumed.Version, resumed.Phase.Wire());
            }
            catch (Exception e) when (IsUpdateFailure(e))
            {
                SetError($"{family.Name}: resuming the interrupted update failed: {e.Message}");
                _log.LogError("Model family {Family}: resuming the interrupted update failed: {Reason}", family.Name, e.Message);
            }
        }
    }

    private bool _firstModelPossible;

    private async Task<Work?> NextWorkAsync(DateTimeOffset due, CancellationToken cancellationToken)
    {
        var wait = due - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero) return _work.Reader.TryRead(out var ready) ? ready : null;
        using var timer = new CancellationTokenSource(wait, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try { return await _work.Reader.ReadAsync(linked.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { return null; }
    }

    private TimeSpan NextDelay(UpdateCheckResult result)
    {
        if (result.Result is "offline" or "failed" or "interrupted")
        {
            var failures = Math.Min(++_failures, 20);
            var backoff = TimeSpan.FromTicks(Math.Min(_options.RetryMax.Ticks, _options.RetryInitial.Ticks * (1L << (failures - 1))));
            return Jitter(backoff, 0.2);
        }
        _failures = 0;
        return Jitter(_options.PollInterval, _options.PollJitter);
    }

    private static TimeSpan Jitter(TimeSpan value, double fraction) =>
        TimeSpan.FromTicks((long)(value.Ticks * (1 + fraction * (2 * Random.Shared.NextDouble() - 1))));

    private async Task<UpdateCheckResult> CheckAsync(CheckWork check, CancellationToken cancellationToken)
    {
        SetState("checking", null);
        var families = new List<UpdateFamilyOutcome>();
        string result;
        string? detail = null;
        try
        {
            await EnsureTrustAsync(cancellationToken).ConfigureAwait(false);
            await _tuf.RefreshAsync(cancellationToken).ConfigureAwait(false);
            SetOnline();
            var path = DeviceAssignmentLayout.TargetPath(_deviceId);
            var target = await _tuf.FindTargetAsync(path, cancellationToken).ConfigureAwait(false);
            if (target is null)
            {
                result = "no-assignment";
                detail = $"the update server lists no '{path}' for this device yet; it keeps what it runs";
            }
            else
            {
                var assignment = await ReadAssignmentAsync(target, cancellationToken).ConfigureAwait(false);
                foreach (var (family, bundle) in assignment.Models.OrderBy(m => m.Key, StringComparer.Ordinal))
                    families.Add(await ApplyAsync(family, bundle, cancellationToken).ConfigureAwait(false));
                (result, detail) = Summarize(families);
            }
        }
        catch (TufException e) when (IsNetwork(e))
        {
            SetOffline(e.Message);
            (result, detail) = ("offline", e.Message);
        }
        catch (TufException e)
        {
            // Metadata the client refused (signature, expiry, rollback, hash): a security event, not an outage.
            SetError($"update metadata refused: {e.Message}");
            _log.LogError("Update metadata refused ({Kind}): {Reason}", e.Kind, e.Message);
            (result, detail) = ("failed", e.Message);
        }
        catch (BundleException e) when (e.Failure == BundleFailure.Assignment)
        {
            (result, detail) = ("assignment-refused", e.Message);
        }
        catch (Exception e) when (IsUpdateFailure(e))
        {
            SetError(e.Message);
            _log.LogError(e, "Update check failed: {Reason}", e.Message);
            (result, detail) = ("failed", e.Message);
        }
        return new UpdateCheckResult(check.Id, check.Trigger, result, detail, families, _time.GetUtcNow());
    }

    private static (string, string?) Summarize(List<UpdateFamilyOutcome> families)
    {
        if (families.FirstOrDefault(f => f.Phase == "rolled-back") is { } rolled) return ("rolled-back", rolled.Reason);
        if (families.FirstOrDefault(f => f.Phase == "refused") is { } refused) return ("refused", refused.Reason);
        if (families.FirstOrDefault(f => f.Phase == "failed") is { } failed) return ("failed", failed.Reason);
        if (families.FirstOrDefault(f => f.Phase == "downloading") is { } cut) return ("interrupted", cut.Reason);
        if (families.Any(f => f.Phase == "committed")) return ("updated", null);
        return ("up-to-date", null);
    }

    /// <summary>Downloads the assignment through TUF (length and hashes verified) and parses it for this device.</summary>
    private async Task<DeviceAssignment> ReadAssignmentAsync(TargetInfo target, CancellationToken cancellationToken)
    {
        var sha = target.Hashes.TryGetValue("sha256", out var h) ? h : string.Join(",", target.Hashes.Values);
        try
        {
            if (target.Length > DeviceAssignmentLayout.MaxBytes)
                throw new BundleException(BundleFailure.Assignment, $"assignment '{target.Path}' is {target.Length} bytes; the limit is {DeviceAssignmentLayout.MaxBytes}.");
            var file = Path.GetFullPath(Path.Combine(_options.MetadataDirectory, "..", "assignment.json"));
            await _tuf.DownloadTargetAsync(target, file, cancellationToken).ConfigureAwait(false);
            var assignment = DeviceAssignmentLayout.Parse(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), _deviceId);
            lock (_gate) _refusedAssignment = null;
            return assignment;
        }
        catch (BundleException e)
        {
            // Signed but wrong for this device: report it once per assignment version, not at every poll.
            bool first;
            lock (_gate) (first, _refusedAssignment) = (_refusedAssignment != sha, sha);
            SetError($"assignment refused: {e.Message}");
            if (first)
            {
                _log.LogError("Assignment {Target} refused: {Reason}", target.Path, e.Message);
                await _events.PublishAsync(new UpdateEvent("", "", 0, UpdatePhase.Idle.Wire(), UpdatePhase.Refused.Wire(),
                    $"assignment refused: {e.Message}", null, _time.GetUtcNow(), nameof(UpdateRefusal.Assignment)), cancellationToken).ConfigureAwait(false);
            }
            throw;
        }
    }

    private async Task<UpdateFamilyOutcome> ApplyAsync(string name, string target, CancellationToken cancellationToken)
    {
        var family = GetFamily(name);
        using var applying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lock (_gate)
        {
            _applying = applying;
            _applyingFamily = name;
            _state = "applying";
        }
        try
        {
            UpdateOutcome outcome;
            var attempt = 0;
            while (true)
            {
                outcome = await family.Manager.ApplyAsync(target, applying.Token).ConfigureAwait(false);
                if (!outcome.Interrupted || ++attempt >= _options.DownloadAttempts) break;
                var delay = TimeSpan.FromTicks(Math.Min(_options.RetryMax.Ticks, _options.RetryInitial.Ticks << Math.Min(attempt - 1, 20)));
                _log.LogInformation("Download of {Target} interrupted ({Reason}); resuming in {Delay}", target, outcome.Reason, delay);
                await Task.Delay(delay, _time, applying.Token).ConfigureAwait(false);
            }
            return new UpdateFamilyOutcome(name, target, outcome.Phase.Wire(), outcome.Version, outcome.Reason, outcome.Refusal?.ToString());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new UpdateFamilyOutcome(name, target, "failed", null, "stopped for an operator rollback", nameof(UpdateRefusal.Operator));
        }
        catch (TufException e) when (!IsNetwork(e))
        {
            // The assigned bundle is not listed or its metadata is refused: the assignment and the registry disagree.
            _log.LogError("Model family {Family}: assigned {Target} refused by TUF: {Reason}", name, target, e.Message);
            return new UpdateFamilyOutcome(name, target, "refused", null, e.Message, e.Kind.ToString());
        }
        catch (Exception e) when (e is not TufException && IsUpdateFailure(e))
        {
            SetError($"{name}: {e.Message}");
            _log.LogError(e, "Model family {Family}: update to {Target} failed: {Reason}", name, target, e.Message);
            return new UpdateFamilyOutcome(name, target, "failed", null, e.Message, null);
        }
        finally
        {
            lock (_gate)
            {
                _applying = null;
                _applyingFamily = null;
            }
        }
    }

    private async Task RollbackAsync(RollbackWork work, CancellationToken cancellationToken)
    {
        try
        {
            var name = work.Family ?? SingleInstalledFamily();
            var family = GetFamily(name);
            var outcome = await family.Manager.RollbackToPreviousAsync(work.Reason, cancellationToken).ConfigureAwait(false);
            work.Done.TrySetResult(outcome);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            work.Done.TrySetCanceled(cancellationToken);
        }
        catch (Exception e) when (IsUpdateFailure(e) || e is RollbackUnavailableException)
        {
            work.Done.TrySetException(e);
        }
    }

    private string SingleInstalledFamily()
    {
        var installed = Directory.Exists(_modelStore)
            ? Directory.GetDirectories(_modelStore).Where(d => new UpdateStateStore(d).ReadPointer() is not null).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()
            : [];
        return installed.Count switch
        {
            0 => throw new RollbackUnavailableException($"no model is installed in '{_modelStore}'; there is nothing to roll back."),
            1 => installed[0]!,
            _ => throw new RollbackUnavailableException($"several model families are installed ({string.Join(", ", installed)}); name the one to roll back."),
        };
    }

    private async Task EnsureTrustAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(_options.MetadataDirectory, "root.json"))) return;
        byte[] root;
        try { root = await File.ReadAllBytesAsync(_options.TrustedRootPath, cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TufException(TufFailureKind.State, $"the trusted root '{_options.TrustedRootPath}' (updates.trustedRoot) cannot be read: {e.Message}", e);
        }
        await TufClient.InitializeAsync(_options.MetadataDirectory, root, _time, cancellationToken).ConfigureAwait(false);
        _log.LogInformation("Update trust initialised from {Root} into {Directory}", _options.TrustedRootPath, _options.MetadataDirectory);
    }

    private static bool IsNetwork(TufException e) => e.Kind is TufFailureKind.Download or TufFailureKind.TooSlow;

    private static bool IsUpdateFailure(Exception e) => e is UpdateStateException or UpdateRefusedException or BundleException or OnnxRuntimeException
        or ModelContractException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or TufException or JsonException;

    private void Observed(UpdateEvent e)
    {
        lock (_gate)
        {
            _lastEvent = e;
            if (_families.GetValueOrDefault(e.Family) is { } family) family.OnTrial = e.To == UpdatePhase.Observing.Wire();
        }
        Transition?.Invoke(e);
    }

    private void OnActivated(Family family, InstalledModel model, bool noEngine)
    {
        family.TrackInputs(model);
        bool first;
        lock (_gate)
        {
            first = noEngine && _firstModelPossible;
            if (first) _firstModelPossible = false;
        }
        if (!first) return;
        _log.LogInformation("First model installed: {Family} {Version} in slot {Slot}; the service starts serving it", model.Manifest.Name, model.Manifest.Version, model.Slot);
        _firstModel.TrySetResult(model);
        FirstModelActivated?.Invoke(model);
    }

    private void SetState(string state, DateTimeOffset? next)
    {
        lock (_gate) (_state, _nextCheckAt) = (state, next);
    }

    private void SetError(string message)
    {
        lock (_gate) _lastError = message;
    }

    private void SetOffline(string reason)
    {
        bool first;
        lock (_gate)
        {
            first = !_offline;
            _offline = true;
            _lastError = $"update server unreachable: {reason}";
        }
        if (first) _log.LogWarning("Update server unreachable ({Reason}); working offline, retrying with backoff up to {Max}", reason, _options.RetryMax);
    }

    private void SetOnline()
    {
        bool was;
        lock (_gate) (was, _offline) = (_offline, false);
        if (was) _log.LogInformation("Update server {Url} reachable again", _options.MetadataUrl);
    }

    private List<Family> FamiliesSnapshot()
    {
        lock (_gate) return [.. _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal)];
    }

    private Family GetFamily(string name)
    {
        if (!BundleLayout.IsName(name)) throw new ArgumentException($"'{name}' is not a model family name.", nameof(name));
        lock (_gate)
        {
            if (_families.TryGetValue(name, out var existing)) return existing;
            var health = new ModelHealthMonitor(_time);
            var manager = new UpdateManager(new UpdateManagerOptions
            {
                Family = name,
                Directory = Path.Combine(_modelStore, name),
                HardwareId = _options.HardwareId,
                LatencyRuns = _options.LatencyRuns,
                ShadowWindows = _options.ShadowWindows,
                MinShadowAgreement = _options.MinShadowAgreement,
                Health = _options.Health,
                AcceptContractChange = _options.AcceptContractChange,
                DiskReserveBytes = _options.DiskReserveBytes,
            }, _tuf, _fetcher, _options.TargetBaseUrl, engine: null, health, _events, _time);
            var family = new Family(name, manager, health, _options.Health.MaxInputPsi is not null);
            family.Observer = new UpdateLoopHealthObserver(health, () => family.OnTrial);
            manager.Activated += (model, noEngine) => OnActivated(family, model, noEngine);
            _families[name] = family;
            return family;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _work.Writer.TryComplete();
        _ownedFetcher?.Dispose();
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>One model family's manager, health monitor and pipeline hook.</summary>
    private sealed class Family(string name, UpdateManager manager, ModelHealthMonitor health, bool trackInputs)
    {
        public string Name { get; } = name;
        public UpdateManager Manager { get; } = manager;
        public ModelHealthMonitor Health { get; } = health;
        public IInferenceObserver Observer { get; set; } = null!;
        public TaskCompletionSource EngineAttached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>A new model of this family is in its health window (failures are judged, not fatal).</summary>
        public volatile bool OnTrial;

        public void TrackInputs(InstalledModel model)
        {
            if (trackInputs) Health.TrackInputs(Math.Max(1, model.Manifest.Windowing.Channels));
        }
    }

    private abstract record Work;

    private sealed record CheckWork(long Id, string Trigger, TaskCompletionSource<UpdateCheckResult> Done) : Work;

    private sealed record RollbackWork(string? Family, string Reason, TaskCompletionSource<UpdateOutcome> Done) : Work;
}
