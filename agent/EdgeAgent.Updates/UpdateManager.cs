using System.Security.Cryptography;
using EdgeAgent.Bundles;
using EdgeAgent.Onnx;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Storage;
using EdgeAgent.Updates.Download;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Validation;

namespace EdgeAgent.Updates;

/// <summary>How one <see cref="UpdateManager.ApplyAsync"/> call ended.</summary>
/// <param name="Phase">Phase reached: a terminal phase, or the phase to resume from when <paramref name="Interrupted"/>.</param>
/// <param name="Interrupted">The download was cut (network): call again later, it resumes with a Range request.</param>
public sealed record UpdateOutcome(UpdatePhase Phase, string? Version, string? Reason, UpdateRefusal? Refusal = null, bool Interrupted = false);

/// <summary>
/// The on-device update state machine of one model family (DESIGN §6):
/// idle → downloading → verifying → validating → [shadow] → activating → observing → committed | rolled-back,
/// with refused for anything caught before activation. The state is persisted before each step's
/// effects (<see cref="UpdateStateStore"/>), so after a power cut <see cref="ApplyAsync"/> or
/// <see cref="ResumeAsync"/> continues where it stopped; steps are idempotent. The serving
/// <see cref="InferenceEngine"/> keeps answering throughout: candidates load in their own sessions
/// and the switch is <see cref="InferenceEngine.Swap"/> after the slot pointer is durable. Every
/// transition is published to <see cref="IUpdateEventSink"/> after it is persisted.
/// Not thread safe: one call at a time (the agent runs one update loop per family).
/// Cancellation stops at the next await; the persisted state stays resumable.
/// <para><b>First install.</b> Without a serving engine (<c>null</c> at construction, nothing installed
/// yet) a validated release is activated straight into a slot and <see cref="Activated"/> tells the host
/// to start serving it; the host then hands its engine over with <see cref="AttachEngine"/>, and later
/// releases are hot-swapped into it. Without an engine the serving-contract check compares with the
/// active slot's manifest when there is one.</para>
/// </summary>
public sealed class UpdateManager
{
    private readonly UpdateManagerOptions _options;
    private readonly TufClient _tuf;
    private readonly ITufFetcher _fetcher;
    private readonly Uri _targetBaseUri;
    private InferenceEngine? _engine;
    private readonly ModelHealthMonitor _health;
    private readonly IUpdateEventSink _events;
    private readonly TimeProvider _time;
    private readonly UpdateStateStore _store;
    private readonly ModelSlotStore _slots;
    private readonly BundleValidator _validator;

    public UpdateManager(UpdateManagerOptions options, TufClient tuf, ITufFetcher fetcher, Uri targetBaseUri,
        InferenceEngine? engine, ModelHealthMonitor health, IUpdateEventSink events, TimeProvider? time = null)
    {
        _options = options;
        _tuf = tuf;
        _fetcher = fetcher;
        _targetBaseUri = targetBaseUri.AbsoluteUri.EndsWith('/') ? targetBaseUri : new Uri(targetBaseUri.AbsoluteUri + "/");
        _engine = engine;
        _health = health;
        _events = events;
        _time = time ?? TimeProvider.System;
        _store = new UpdateStateStore(options.Directory);
        _slots = new ModelSlotStore(_store);
        _validator = new BundleValidator(options.SessionOptions, options.LatencyRuns, _time);
    }

    /// <summary>
    /// Raised after a release became the active slot durably (and, with an engine, after the engine
    /// swapped to it), before its health window: <c>true</c> when there was no engine to swap, i.e. the
    /// host must start serving the model itself (first install). Called on the update's own flow; keep it short.
    /// </summary>
    public event Action<InstalledModel, bool>? Activated;

    /// <summary>The engine serving this family, or null before the first model is served.</summary>
    public InferenceEngine? Engine => Volatile.Read(ref _engine);

    /// <summary>
    /// Hands over the engine the host serves this family with (after a first install, or when the host
    /// starts serving later than the manager was built). Later activations and rollbacks swap it.
    /// Thread safe with respect to a running update: the engine is read once per step.
    /// </summary>
    public void AttachEngine(InferenceEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Volatile.Write(ref _engine, engine);
    }

    /// <summary>Bytes fetched from the network by the last download step, and where it resumed.</summary>
    public (long Fetched, long ResumedFrom) LastDownload { get; private set; }

    /// <summary>The persisted update record (null when none was ever started).</summary>
    public UpdateRecord? Current => _store.ReadRecord();

    /// <summary>
    /// The model to serve at start-up: the active slot if its model matches its manifest, otherwise
    /// the previous slot (the pointer is switched back durably). Null when nothing is installed.
    /// </summary>
    public static InstalledModel? OpenActive(string familyDirectory)
    {
        var store = new UpdateStateStore(familyDirectory);
        var slots = new ModelSlotStore(store);
        var pointer = store.ReadPointer();
        if (pointer is null) return null;
        if (slots.TryVerify(pointer.Active, pointer.ActiveCommitted, out var problem) is { } active) return active;
        if (pointer.Previous is { } previous && slots.TryVerify(previous, true, out _) is { } fallback)
        {
            pointer.Active = previous;
            pointer.Previous = null;
            pointer.ActiveVersion = fallback.Manifest.Version;
            pointer.ActiveReleaseCounter = fallback.Manifest.ReleaseCounter;
            pointer.ActiveCommitted = true;
            store.WritePointerAsync(pointer, CancellationToken.None).GetAwaiter().GetResult();
            return fallback;
        }
        throw new UpdateStateException($"No servable model in '{familyDirectory}': active slot '{pointer.Active}' is damaged ({problem}) and there is no intact previous slot. Reinstall a bundle with 'edgeagent bundle install'.");
    }

    /// <summary>Continues an interrupted update, if any; null when there is nothing to resume.</summary>
    public async Task<UpdateOutcome?> ResumeAsync(CancellationToken cancellationToken)
    {
        var record = _store.ReadRecord();
        if (record is null || record.Phase.IsTerminal()) return null;
        return await RunAsync(record, bundle: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Operator rollback (<c>edgeagent models rollback</c>, the hub's <c>rollback</c> command): the previous
    /// slot serves again, durably, and the release that was active is rejected on this device (its bundle
    /// hash is not installed again), so an assignment still naming it does not put it straight back; publish
    /// a new release to move forward. An update still being observed ends as rolled-back. The
    /// release-counter floor is kept: a rollback never lowers it (Uptane), it only goes back to bytes that
    /// were already committed here. Reported like an automatic rollback, with code <see cref="UpdateRefusal.Operator"/>.
    /// </summary>
    /// <exception cref="RollbackUnavailableException">Nothing is installed, or there is no intact previous slot; nothing changed.</exception>
    public async Task<UpdateOutcome> RollbackToPreviousAsync(string reason, CancellationToken cancellationToken)
    {
        var family = _options.Family;
        var pointer = _store.ReadPointer()
                      ?? throw new RollbackUnavailableException($"model family '{family}' has no installed model; there is nothing to roll back.");
        string? problem = null;
        var previous = pointer.Previous is { } p ? _slots.TryVerify(p, true, out problem) : null;
        if (previous is null)
            throw new RollbackUnavailableException(pointer.Previous is null
                ? $"model family '{family}' runs {pointer.ActiveVersion} (slot {pointer.Active}) and has no previous slot to roll back to: it is the first model installed here, or already the result of a rollback."
                : $"model family '{family}': the previous slot '{pointer.Previous}' is damaged ({problem}); rolling back would serve a broken model, so {pointer.ActiveVersion} keeps serving.");
        var record = _store.ReadRecord();
        if (record is null || record.Version != pointer.ActiveVersion)
        {
            // The active release has no update record (installed by the operator, or the record moved on
            // to another download): a record of its own carries the report.
            var now = _time.GetUtcNow();
            record = new UpdateRecord
            {
                Phase = UpdatePhase.Committed, Family = family, Version = pointer.ActiveVersion, ReleaseCounter = pointer.ActiveReleaseCounter,
                TargetSlot = pointer.Active, StartedAt = now, UpdatedAt = now,
            };
        }
        var verdict = new UpdateRefusedException(UpdateRefusal.Operator, $"rolled back by the operator to {previous.Manifest.Version}: {reason}");
        return await RollbackAsync(record, verdict, _health.Snapshot(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Installs the release at TUF target <paramref name="targetPath"/> (<c>models/&lt;family&gt;/&lt;version&gt;.bundle</c>),
    /// as assigned by the hub: refreshes TUF metadata, then runs the state machine to a terminal
    /// phase (or to an interrupted download). An update already in progress for the same target is
    /// resumed; one for another target that has not been activated yet is abandoned (refused,
    /// "superseded").
    /// </summary>
    public async Task<UpdateOutcome> ApplyAsync(string targetPath, CancellationToken cancellationToken)
    {
        if (!BundleLayout.TryParseTargetPath(targetPath, _options.Family, out var version))
            throw new ArgumentException($"'{targetPath}' is not a bundle of family '{_options.Family}' (expected models/{_options.Family}/<version>.bundle).", nameof(targetPath));
        var record = _store.ReadRecord();
        if (record is not null && !record.Phase.IsTerminal())
        {
            if (record.TargetPath == targetPath || record.Phase is UpdatePhase.Activating or UpdatePhase.Observing)
                return await RunAsync(record, null, cancellationToken).ConfigureAwait(false);
            await RefuseAsync(record, new UpdateRefusedException(UpdateRefusal.Download, $"superseded by the assignment of '{targetPath}'."), cancellationToken).ConfigureAwait(false);
        }
        var pointer = _store.ReadPointer();
        if (pointer?.ActiveVersion == version)
            return new UpdateOutcome(UpdatePhase.Idle, version, $"release {version} is already active.");

        await _tuf.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var target = await _tuf.GetTargetAsync(targetPath, cancellationToken).ConfigureAwait(false);
        if (target.Hashes.TryGetValue("sha256", out var sha) && pointer?.Rejected.Contains(sha, StringComparer.OrdinalIgnoreCase) == true)
            return new UpdateOutcome(UpdatePhase.Refused, version, $"release {version} (sha256 {sha}) was refused or rolled back on this device before; publish a new release.", UpdateRefusal.PreviouslyRejected);

        var now = _time.GetUtcNow();
        record = new UpdateRecord
        {
            Phase = UpdatePhase.Idle,
            Family = _options.Family,
            TargetPath = targetPath,
            Version = version,
            TargetLength = target.Length,
            TargetHashes = new Dictionary<string, string>(target.Hashes, StringComparer.Ordinal),
            DownloadUrl = new Uri(_targetBaseUri, TufClient.TargetUrlPath(target.File, _tuf.Trusted!.Root.Signed.ConsistentSnapshot)).AbsoluteUri,
            StartedAt = now,
            UpdatedAt = now,
        };
        // Start from a clean download directory: leftovers of other releases are not resumable.
        var downloads = DownloadDirectory;
        if (Directory.Exists(downloads)) Directory.Delete(downloads, recursive: true);
        await TransitionAsync(record, UpdatePhase.Downloading, null, new() { ["bytes"] = target.Length }, cancellationToken).ConfigureAwait(false);
        return await RunAsync(record, null, cancellationToken).ConfigureAwait(false);
    }

    private string DownloadDirectory => Path.Combine(_store.Directory, "download");
    private string BundlePath(UpdateRecord r) => Path.Combine(DownloadDirectory, r.Version + ".bundle");

    private async Task<UpdateOutcome> RunAsync(UpdateRecord record, ModelBundle? bundle, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                switch (record.Phase)
                {
                    case UpdatePhase.Downloading:
                        if (!await DownloadAsync(record, cancellationToken).ConfigureAwait(false))
                            return new UpdateOutcome(UpdatePhase.Downloading, record.Version, record.Reason, Interrupted: true);
                        await TransitionAsync(record, UpdatePhase.Verifying, null, new() { ["fetchedBytes"] = LastDownload.Fetched, ["resumedFrom"] = LastDownload.ResumedFrom }, cancellationToken).ConfigureAwait(false);
                        break;
                    case UpdatePhase.Verifying:
                        bundle = Verify(record);
                        record.ReleaseCounter = bundle.Manifest.ReleaseCounter;
                        await TransitionAsync(record, UpdatePhase.Validating, null, new() { ["releaseCounter"] = bundle.Manifest.ReleaseCounter }, cancellationToken).ConfigureAwait(false);
                        break;
                    case UpdatePhase.Validating:
                        bundle ??= Verify(record);
                        CheckServingContract(bundle);
                        var report = _validator.ValidateModel(bundle);
                        record.TargetSlot = ModelSlotStore.Other(_store.ReadPointer()?.Active ?? "b");
                        // Shadow needs live traffic of a serving model: a first install has none.
                        await TransitionAsync(record, _options.ShadowWindows > 0 && Engine is not null ? UpdatePhase.Shadow : UpdatePhase.Activating, null, new()
                        {
                            ["goldenVectors"] = report.GoldenVectors, ["goldenMaxAbsError"] = report.GoldenMaxAbsError,
                            ["p50Ms"] = report.P50Ms, ["p99Ms"] = report.P99Ms, ["budgetMs"] = report.BudgetMs,
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case UpdatePhase.Shadow:
                        bundle ??= Verify(record);
                        var shadow = await ShadowAsync(bundle, cancellationToken).ConfigureAwait(false);
                        await TransitionAsync(record, UpdatePhase.Activating, null, shadow, cancellationToken).ConfigureAwait(false);
                        break;
                    case UpdatePhase.Activating:
                        await ActivateAsync(record, bundle, cancellationToken).ConfigureAwait(false);
                        await TransitionAsync(record, UpdatePhase.Observing, null, null, cancellationToken).ConfigureAwait(false);
                        break;
                    case UpdatePhase.Observing:
                        return await ObserveAsync(record, cancellationToken).ConfigureAwait(false);
                    default:
                        return new UpdateOutcome(record.Phase, record.Version, record.Reason);
                }
            }
            catch (UpdateRefusedException e) when (record.Phase is not UpdatePhase.Observing)
            {
                await RefuseAsync(record, e, cancellationToken).ConfigureAwait(false);
                return new UpdateOutcome(UpdatePhase.Refused, record.Version, e.Message, e.Refusal);
            }
            catch (BundleException e) when (record.Phase is UpdatePhase.Verifying or UpdatePhase.Validating or UpdatePhase.Shadow)
            {
                var refusal = new UpdateRefusedException(UpdateRefusal.BundleFormat, $"release {record.Version}: {e.Message}", e);
                await RefuseAsync(record, refusal, cancellationToken).ConfigureAwait(false);
                return new UpdateOutcome(UpdatePhase.Refused, record.Version, refusal.Message, UpdateRefusal.BundleFormat);
            }
        }
    }

    /// <summary>True when the verified bundle file is in place; false when the transfer was cut (resumable).</summary>
    private async Task<bool> DownloadAsync(UpdateRecord record, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DownloadDirectory);
        var final = BundlePath(record);
        if (File.Exists(final)) return true; // renamed in place before a crash; re-hashed in Verifying
        var part = final + ".part";
        var have = File.Exists(part) ? Math.Min(new FileInfo(part).Length, record.DownloadCheckpoint) : 0;
        CheckFreeDisk(record, have);
        var limits = new FetchLimits(record.TargetLength, _options.DownloadDeadline, _options.MinimumBytesPerSecond, _options.SlowStartGracePeriod);
        var download = new ResumableTargetDownload(_fetcher, limits, _options.DownloadChunkBytes);
        try
        {
            await download.DownloadAsync(new Uri(record.DownloadUrl), part, record.TargetLength, record.TargetHashes, record.DownloadCheckpoint,
                async (position, ct) =>
                {
                    record.DownloadCheckpoint = position;
                    record.UpdatedAt = _time.GetUtcNow();
                    await _store.WriteRecordAsync(record, ct).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
        }
        catch (TufException e) when (e.Kind == TufFailureKind.LengthOrHash)
        {
            LastDownload = (download.LastFetchedBytes, download.LastResumedFrom);
            record.DownloadCheckpoint = 0;
            if (record.DownloadRestarts < _options.MaxDownloadRestarts)
            {
                // A resumed prefix may hold garbage after a power cut; one clean retry tells that from a bad server.
                record.DownloadRestarts++;
                record.Reason = e.Message;
                await _store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
                return false;
            }
            throw new UpdateRefusedException(UpdateRefusal.TargetHash, $"the downloaded bundle does not match the signed TUF metadata: {e.Message} (substituted or corrupted on the way).", e);
        }
        catch (TufException e) when (e.Kind is TufFailureKind.TooLarge)
        {
            throw new UpdateRefusedException(UpdateRefusal.TargetHash, $"the server sent more than the {record.TargetLength} bytes the signed metadata pins: {e.Message}", e);
        }
        catch (TufException e)
        {
            LastDownload = (download.LastFetchedBytes, download.LastResumedFrom);
            record.Reason = e.Message;
            if (e is TufDownloadException { StatusCode: 200 }) record.DownloadCheckpoint = 0; // server ignored Range: next attempt from zero
            await _store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
            return false;
        }
        LastDownload = (download.LastFetchedBytes, download.LastResumedFrom);
        File.Move(part, final, overwrite: true);
        DurableFile.SyncDirectory(DownloadDirectory);
        return true;
    }

    private void CheckFreeDisk(UpdateRecord record, long have)
    {
        // The bundle, then the unpacked model in a slot (at most the bundle size) and a reserve.
        var needed = record.TargetLength - have + record.TargetLength + _options.DiskReserveBytes;
        long free;
        try { free = new DriveInfo(_store.Directory).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return; }
        if (free < needed)
            throw new UpdateRefusedException(UpdateRefusal.InsufficientDisk,
                $"release {record.Version} needs {needed / 1048576.0:0.#} MiB free in '{_store.Directory}' (bundle, unpacked model, reserve); only {free / 1048576.0:0.#} MiB are free.");
    }

    private ModelBundle Verify(UpdateRecord record)
    {
        var path = BundlePath(record);
        // Re-hash against the TUF pins: after a restart the file is all we have.
        using (var fs = File.OpenRead(path))
        {
            if (fs.Length != record.TargetLength)
                throw new UpdateRefusedException(UpdateRefusal.TargetHash, $"'{path}' is {fs.Length} bytes, the signed metadata pins {record.TargetLength}.");
            using var hash = Trust.Metadata.HashCheck.CreateIncremental(record.TargetHashes, $"bundle '{record.TargetPath}'");
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = fs.Read(buffer)) > 0) hash.Append(buffer.AsSpan(0, n));
            try { hash.Verify(); }
            catch (TufException e) { throw new UpdateRefusedException(UpdateRefusal.TargetHash, e.Message, e); }
        }
        var bundle = BundleReader.ReadFile(path);
        var pointer = _store.ReadPointer();
        if (bundle.Manifest.Version != record.Version)
            throw new UpdateRefusedException(UpdateRefusal.BundleFormat, $"target '{record.TargetPath}' holds release '{bundle.Manifest.Version}', not '{record.Version}'.");
        BundleValidator.CheckPolicy(bundle.Manifest, _options.Family, _options.HardwareId, pointer?.ReleaseCounterFloor ?? 0, pointer?.ActiveReleaseCounter ?? 0);
        return bundle;
    }

    /// <summary>
    /// The serving engine's bound contract must accept the release unless contract changes are
    /// allowed: refused here, before anything is installed, rather than by Swap after the slot pointer moved.
    /// </summary>
    private void CheckServingContract(ModelBundle bundle)
    {
        if (_options.AcceptContractChange) return;
        try
        {
            if (Engine is { } engine) BundleValidator.CheckContract(new ModelContract(engine.Inputs, engine.Outputs), bundle.Manifest);
            else if (ActiveManifest() is { } active) CheckSameContract(active, bundle.Manifest);
            // else: first install, nothing serves yet, so there is no contract to keep.
        }
        catch (ModelContractException e)
        {
            throw new UpdateRefusedException(UpdateRefusal.ContractMismatch,
                $"release {bundle.Manifest.Version} changes the model contract of the serving model ({e.Message.Replace("the model has", "the serving model has", StringComparison.Ordinal)}); the windowing pipeline would not fit it. Allow it with AcceptContractChange after updating the configuration.", e);
        }
    }

    private Bundles.Manifest.BundleManifest? ActiveManifest() =>
        _store.ReadPointer() is { } p ? _slots.TryVerify(p.Active, p.ActiveCommitted, out _)?.Manifest : null;

    /// <summary>Same inputs and outputs by name, type and shape as the installed manifest (no engine to ask).</summary>
    private static void CheckSameContract(Bundles.Manifest.BundleManifest active, Bundles.Manifest.BundleManifest next)
    {
        static string Describe(IEnumerable<Bundles.Manifest.TensorDescriptor> t) =>
            string.Join(", ", t.Select(d => $"{d.Name} {d.ElementType}[{string.Join(',', d.Shape)}]"));
        string a = Describe(active.Inputs) + " -> " + Describe(active.Outputs), b = Describe(next.Inputs) + " -> " + Describe(next.Outputs);
        if (a != b) throw new ModelContractException($"the model has {b}, the installed model {active.Version} has {a}");
    }

    private async Task<Dictionary<string, double>> ShadowAsync(ModelBundle bundle, CancellationToken cancellationToken)
    {
        var session = OnnxSession.Load(bundle.Model, _options.SessionOptions, $"{bundle.Manifest.Name} {bundle.Manifest.Version} (shadow)");
        InferenceEngine candidate;
        try { candidate = InferenceEngine.Create(session); }
        catch { session.Dispose(); throw; }
        using var _ = candidate;
        var reader = _health.AttachShadow();
        using var timeout = new CancellationTokenSource(_options.ShadowTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        long compared = 0, agreed = 0, skipped = 0;
        double deltaSum = 0, deltaMax = 0;
        var output = new float[candidate.Outputs[0].ElementCount ?? 0];
        try
        {
            while (compared < _options.ShadowWindows)
            {
                LiveSample sample;
                try { sample = await reader.ReadAsync(linked.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { break; }
                if (sample.Input.Length != candidate.Inputs[0].ElementCount || sample.Output.Length != output.Length) { skipped++; continue; }
                candidate.Run<float, float>(sample.Input, output);
                int a = ArgMax(sample.Output), b = ArgMax(output);
                compared++;
                if (a == b) agreed++;
                var delta = Math.Abs(output[b] - sample.Output[a]);
                deltaSum += delta;
                deltaMax = Math.Max(deltaMax, delta);
            }
        }
        finally
        {
            _health.DetachShadow();
        }
        var agreement = compared == 0 ? 0 : (double)agreed / compared;
        var metrics = new Dictionary<string, double>
        {
            ["shadowWindows"] = compared, ["agreement"] = agreement, ["meanConfidenceDelta"] = compared == 0 ? 0 : deltaSum / compared,
            ["maxConfidenceDelta"] = deltaMax, ["skippedWindows"] = skipped,
        };
        if (_options.MinShadowAgreement is { } min && compared > 0 && agreement < min)
            throw new UpdateRefusedException(UpdateRefusal.ShadowDisagreement,
                $"release {bundle.Manifest.Version} agreed with the serving model on {agreement:P1} of {compared} live windows, below the required {min:P1}.");
        return metrics;
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        var k = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[k]) k = i;
        return k;
    }

    private async Task ActivateAsync(UpdateRecord record, ModelBundle? bundle, CancellationToken cancellationToken)
    {
        var existing = _store.ReadPointer();
        var pointer = existing ?? new SlotPointer { Active = "b" }; // first install: slot a, nothing to go back to
        var slot = record.TargetSlot ?? ModelSlotStore.Other(pointer.Active);
        var alreadySwitched = pointer.Active == slot && pointer.ActiveVersion == record.Version;
        if (!alreadySwitched)
        {
            bundle ??= Verify(record);
            // Order matters for power cuts: slot files durable → pointer durable → serve.
            await _slots.InstallAsync(slot, bundle, cancellationToken).ConfigureAwait(false);
            await _store.WritePointerAsync(new SlotPointer
            {
                Active = slot,
                Previous = existing is null || pointer.Active == slot ? null : pointer.Active,
                ActiveVersion = record.Version,
                ActiveReleaseCounter = bundle.Manifest.ReleaseCounter,
                ActiveCommitted = false,
                ReleaseCounterFloor = pointer.ReleaseCounterFloor,
                Rejected = pointer.Rejected,
            }, cancellationToken).ConfigureAwait(false);
        }
        var installed = _slots.TryVerify(slot, false, out var problem)
                        ?? throw new UpdateStateException($"slot '{slot}' failed verification right after installation: {problem}");
        var engine = Engine;
        if (engine is not null && engine.Source != installed.ModelPath)
        {
            try
            {
                var session = OnnxSession.Load(installed.ModelPath, _options.SessionOptions);
                try { engine.Swap(session, _options.AcceptContractChange); }
                catch { session.Dispose(); throw; }
            }
            catch (Exception e) when (e is ModelContractException or OnnxRuntimeException)
            {
                // The old model still serves (Swap is all or nothing): point back at it before refusing,
                // so a restart does not boot into the release that could not be switched to.
                var revert = pointer;
                if (alreadySwitched && pointer.Previous is { } prev && _slots.TryVerify(prev, true, out _) is { } old)
                    revert = new SlotPointer
                    {
                        Active = prev, Previous = null, ActiveVersion = old.Manifest.Version, ActiveReleaseCounter = old.Manifest.ReleaseCounter,
                        ActiveCommitted = true, ReleaseCounterFloor = pointer.ReleaseCounterFloor, Rejected = pointer.Rejected,
                    };
                await _store.WritePointerAsync(revert, cancellationToken).ConfigureAwait(false);
                throw new UpdateRefusedException(UpdateRefusal.ModelLoad, $"release {record.Version} could not replace the serving model: {e.Message}", e);
            }
        }
        record.Baseline = _health.StartWindow(installed.Manifest.ConfidenceThreshold);
        Activated?.Invoke(installed, engine is null);
    }

    private async Task<UpdateOutcome> ObserveAsync(UpdateRecord record, CancellationToken cancellationToken)
    {
        var pointer = _store.ReadPointer();
        if (pointer is null || pointer.Active != record.TargetSlot || pointer.ActiveVersion != record.Version)
        {
            // The pointer was already switched back (a crash during rollback): finish the rollback's bookkeeping.
            return await FinishRollbackAsync(record, record.Reason ?? "rollback interrupted by a restart", null, cancellationToken).ConfigureAwait(false);
        }
        if (pointer.ActiveCommitted)
            return await FinishCommitAsync(record, null, cancellationToken).ConfigureAwait(false);
        var installed = _slots.TryVerify(pointer.Active, false, out _)!;
        if (Engine is { } engine && engine.Source != installed.ModelPath)
        {
            // Restarted while observing: the host must serve the active slot; make sure it does.
            var session = OnnxSession.Load(installed.ModelPath, _options.SessionOptions);
            try { engine.Swap(session, _options.AcceptContractChange); }
            catch { session.Dispose(); throw; }
        }
        if (record.Baseline is null) record.Baseline = _health.StartWindow(installed.Manifest.ConfidenceThreshold);
        else _health.StartWindow(installed.Manifest.ConfidenceThreshold);
        var policy = _options.Health;
        var baseline = record.Baseline!;
        while (true)
        {
            await Task.Delay(policy.PollInterval, _time, cancellationToken).ConfigureAwait(false);
            var now = _health.Snapshot();
            if (policy.Judge(now, baseline, installed.Manifest.LatencyBudgetMs) is { } verdict)
                return await RollbackAsync(record, verdict, now, cancellationToken).ConfigureAwait(false);
            if (now.Elapsed >= policy.Window && now.Calls + now.Failures >= policy.MinCalls)
            {
                // An enabled criterion without its baseline evidence is reported, never passed silently.
                if (policy.Unjudged(baseline) is { } unjudged) record.Reason = $"committed, but {unjudged}";
                return await FinishCommitAsync(record, now, cancellationToken).ConfigureAwait(false);
            }
            if (now.Elapsed >= policy.MaxWindow)
            {
                record.Reason = $"committed with only {now.Calls} live inferences in {policy.MaxWindow} (fewer than {policy.MinCalls}): health could not be judged fully.";
                if (policy.Unjudged(baseline) is { } unjudged) record.Reason += $" Also, {unjudged}";
                return await FinishCommitAsync(record, now, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static Dictionary<string, double> Metrics(HealthSnapshot s) => new()
    {
        ["calls"] = s.Calls, ["failures"] = s.Failures, ["p99Ms"] = s.P99Ms,
        ["dominantClassShare"] = s.DominantClassShare, ["lowConfidenceShare"] = s.LowConfidenceShare, ["seconds"] = s.Elapsed.TotalSeconds,
    };

    private async Task<UpdateOutcome> FinishCommitAsync(UpdateRecord record, HealthSnapshot? health, CancellationToken cancellationToken)
    {
        var pointer = _store.ReadPointer()!;
        if (!pointer.ActiveCommitted)
        {
            pointer.ActiveCommitted = true;
            pointer.ReleaseCounterFloor = Math.Max(pointer.ReleaseCounterFloor, pointer.ActiveReleaseCounter);
            await _store.WritePointerAsync(pointer, cancellationToken).ConfigureAwait(false);
        }
        await TransitionAsync(record, UpdatePhase.Committed, record.Reason, health is null ? null : Metrics(health), cancellationToken).ConfigureAwait(false);
        CleanDownloads();
        return new UpdateOutcome(UpdatePhase.Committed, record.Version, record.Reason);
    }

    private async Task<UpdateOutcome> RollbackAsync(UpdateRecord record, UpdateRefusedException verdict, HealthSnapshot health, CancellationToken cancellationToken)
    {
        var pointer = _store.ReadPointer()!;
        var previous = pointer.Previous is { } p ? _slots.TryVerify(p, true, out _) : null;
        if (previous is null)
        {
            // Nothing to go back to (first install on this device): keep serving and say so.
            record.Reason = $"{verdict.Message} No previous model to roll back to; the new model keeps serving.";
            return await FinishCommitAsync(record, health, cancellationToken).ConfigureAwait(false);
        }
        record.Reason = verdict.Message;
        await _store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
        var rejected = pointer.Rejected;
        if (record.TargetHashes.TryGetValue("sha256", out var sha)) AddRejected(rejected, sha);
        await _store.WritePointerAsync(new SlotPointer
        {
            Active = previous.Slot,
            Previous = null,
            ActiveVersion = previous.Manifest.Version,
            ActiveReleaseCounter = previous.Manifest.ReleaseCounter,
            ActiveCommitted = true,
            ReleaseCounterFloor = pointer.ReleaseCounterFloor,
            Rejected = rejected,
        }, cancellationToken).ConfigureAwait(false);
        return await FinishRollbackAsync(record, verdict.Message, health, cancellationToken, verdict.Refusal).ConfigureAwait(false);
    }

    private async Task<UpdateOutcome> FinishRollbackAsync(UpdateRecord record, string reason, HealthSnapshot? health, CancellationToken cancellationToken, UpdateRefusal? refusal = null)
    {
        var active = _slots.TryVerify(_store.ReadPointer()!.Active, true, out _)!;
        if (Engine is { } engine && engine.Source != active.ModelPath)
        {
            var session = OnnxSession.Load(active.ModelPath, _options.SessionOptions);
            try { engine.Swap(session, acceptContractChange: true); } // going back to what served before
            catch { session.Dispose(); throw; }
        }
        _health.StartWindow(active.Manifest.ConfidenceThreshold);
        await TransitionAsync(record, UpdatePhase.RolledBack, reason, health is null ? null : Metrics(health), cancellationToken, refusal).ConfigureAwait(false);
        CleanDownloads();
        return new UpdateOutcome(UpdatePhase.RolledBack, record.Version, reason, refusal);
    }

    private async Task RefuseAsync(UpdateRecord record, UpdateRefusedException e, CancellationToken cancellationToken)
    {
        // Only a verdict on the signed release itself blacklists it. A download that did not match the signed
        // hash (a corrupting mirror, a broken proxy) says nothing about the release: the next attempt may
        // receive the right bytes (chaos suite, corrupt-mirror).
        if (record.TargetHashes.TryGetValue("sha256", out var sha)
            && e.Refusal is not (UpdateRefusal.InsufficientDisk or UpdateRefusal.Download or UpdateRefusal.TargetHash))
        {
            if (_store.ReadPointer() is { } pointer)
            {
                AddRejected(pointer.Rejected, sha);
                await _store.WritePointerAsync(pointer, cancellationToken).ConfigureAwait(false);
            }
        }
        await TransitionAsync(record, UpdatePhase.Refused, e.Message, null, cancellationToken, e.Refusal).ConfigureAwait(false);
        CleanDownloads();
    }

    private static void AddRejected(List<string> rejected, string sha)
    {
        if (rejected.Contains(sha, StringComparer.OrdinalIgnoreCase)) return;
        rejected.Add(sha);
        if (rejected.Count > 32) rejected.RemoveAt(0);
    }

    private void CleanDownloads()
    {
        try { if (Directory.Exists(DownloadDirectory)) Directory.Delete(DownloadDirectory, recursive: true); }
        catch (IOException) { } // retried at the next update's start
    }

    private async Task TransitionAsync(UpdateRecord record, UpdatePhase to, string? reason, Dictionary<string, double>? metrics, CancellationToken cancellationToken, UpdateRefusal? code = null)
    {
        var from = record.Phase;
        record.Phase = to;
        record.Reason = reason;
        record.UpdatedAt = _time.GetUtcNow();
        // Persist first: the event is a report of a state that already survives a power cut.
        await _store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync(new UpdateEvent(record.Family, record.Version, record.ReleaseCounter, from.Wire(), to.Wire(), reason, metrics, record.UpdatedAt, code?.ToString()), cancellationToken).ConfigureAwait(false);
    }
}
