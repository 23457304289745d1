using System.Security.Cryptography;
using System.Text.Json;
using EdgeAgent.Bundles;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>What kind of refusal a <see cref="RolloutException"/> is (the API maps it to 404, 409, 422).</summary>
public enum RolloutErrorKind
{
    NotFound,
    Conflict,
    Invalid,
}

/// <summary>A rollout request the hub refuses; the message says what to do instead.</summary>
public sealed class RolloutException(RolloutErrorKind kind, string message) : Exception(message)
{
    public RolloutErrorKind Kind { get; } = kind;
}

/// <summary>
/// Operator actions on rollouts, shared by the API and the CLI (which acts on the store; the running
/// hub's engine picks the change up at its next tick): create, promote, pause, resume, abort. Each
/// action is one revision-checked write (retried on a concurrent change) plus a history line; actions
/// decide, the <see cref="RolloutEngine"/> publishes. Thread-safe.
/// </summary>
/// <param name="requirePublishedRelease">
/// True (the hub, the CLI): the release must have been published as a signed target (<c>POST /api/v1/releases</c>),
/// because the signer refuses assignments to anything else. False only for state-machine tests that run
/// without signing keys.
/// </param>
public sealed class RolloutService(IHubStore store, TimeProvider time, RolloutSignal? signal = null, bool requirePublishedRelease = true)
{
    /// <summary>Default canary steps: 5, 25, 50, 100 percent, each baking 10 minutes with at least one committed device.</summary>
    public static IReadOnlyList<RolloutStep> DefaultSteps { get; } =
        [new(5, 600, 1), new(25, 600, 1), new(50, 600, 1), new(100, 600, 1)];

    public async Task<RolloutRecord> CreateAsync(CreateRolloutRequest request, string actor, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Family) || string.IsNullOrWhiteSpace(request.Version))
            throw new RolloutException(RolloutErrorKind.Invalid, "a rollout needs 'family' and 'version' of a registered model release");
        string family = request.Family, version = request.Version;
        var steps = request.Steps is { Count: > 0 } s ? s : DefaultSteps;
        var thresholds = request.Thresholds ?? RolloutThresholds.Default;
        var cohort = request.Cohort ?? [];
        var problems = RolloutPolicy.Validate(steps, thresholds, cohort);
        if (problems.Count > 0) throw new RolloutException(RolloutErrorKind.Invalid, string.Join("; ", problems));
        var id = request.Id ?? $"{family}-{version}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        if (!BundleLayout.IsName(id))
            throw new RolloutException(RolloutErrorKind.Invalid, $"rollout id '{id}' must be 1–64 characters of letters, digits, '.', '_' or '-', not starting with '.'");

        var model = await store.GetModelAsync(family, version, ct)
                    ?? throw new RolloutException(RolloutErrorKind.Invalid, $"release {family}@{version} is not registered; register it with POST /api/v1/models, then publish it with POST /api/v1/releases");
        long counter = ReleaseCounter(model);
        if (requirePublishedRelease && await store.GetReleaseAsync(family, version, ct) is null)
            throw new RolloutException(RolloutErrorKind.Invalid, $"release {family}@{version} is registered but not published as a signed target; publish it with POST /api/v1/releases first");
        long current = await store.CurrentReleaseCounterAsync(family, ct);
        if (counter <= current)
            throw new RolloutException(RolloutErrorKind.Conflict,
                $"release {family}@{version} has release counter {counter}, not above the fleet's current {current} for '{family}'; devices refuse it (counters never go back): register a release with counter {current + 1} or higher");
        int members = RolloutPolicy.Cohort(await store.ListDevicesAsync(ct), cohort).Count();
        if (members == 0)
            throw new RolloutException(RolloutErrorKind.Invalid, $"cohort {Describe(cohort)} matches no registered, unrevoked device; check the labels with GET /api/v1/devices");
        if (await store.GetRolloutAsync(id, ct) is not null)
            throw new RolloutException(RolloutErrorKind.Conflict, $"rollout '{id}' already exists; choose another id");

        var now = time.GetUtcNow();
        var record = new RolloutRecord(id, family, version, counter, cohort, steps, thresholds, RolloutState.Running, 0, now, null, actor, now, now, null, 1);
        var created = new RolloutEventRecord(now, actor, "created",
            $"{family}@{version} (counter {counter}) to {members} device(s) of cohort {Describe(cohort)} in steps {string.Join(", ", steps.Select(x => RolloutHealthProbe.Figure(x.Percent) + "%"))}");
        if (!await store.CreateRolloutAsync(record, created, ct))
        {
            var active = (await store.ListRolloutsAsync(ct)).FirstOrDefault(r => r.Family == family && r.State.IsActive());
            throw new RolloutException(RolloutErrorKind.Conflict,
                $"model family '{family}' already has an active rollout '{active?.Id}' ({active?.State.Wire()}); abort it or let it finish first");
        }
        signal?.Nudge();
        return record;
    }

    /// <summary>Running → paused: no further steps; health is still watched (a crossing still halts and rolls back).</summary>
    public Task<RolloutRecord> PauseAsync(string id, string actor, string? reason, CancellationToken ct) =>
        TransitionAsync(id, actor, "paused", reason, ct, (r, _, now) => r.State == RolloutState.Running
            ? (r with { State = RolloutState.Paused, Reason = reason ?? $"paused by {actor}", UpdatedAt = now }, [])
            : throw WrongState(r, "pause", "running"));

    /// <summary>Paused → running; the step's bake time keeps counting from when the step started.</summary>
    public Task<RolloutRecord> ResumeAsync(string id, string actor, string? reason, CancellationToken ct) =>
        TransitionAsync(id, actor, "resumed", reason, ct, (r, _, now) => r.State == RolloutState.Paused
            ? (r with { State = RolloutState.Running, Reason = null, UpdatedAt = now }, [])
            : throw WrongState(r, "resume", "paused"));

    /// <summary>Starts the next step now, without waiting for bake time or committed devices (thresholds still apply); on the last step, completes.</summary>
    public Task<RolloutRecord> PromoteAsync(string id, string actor, string? reason, CancellationToken ct) =>
        TransitionAsync(id, actor, "promoted", reason, ct, (r, devices, now) =>
        {
            if (r.State is not (RolloutState.Running or RolloutState.Paused)) throw WrongState(r, "promote", "running or paused");
            if (r.StepIndex < r.Steps.Count - 1)
                return (r with { StepIndex = r.StepIndex + 1, StepStartedAt = now, UpdatedAt = now }, []);
            if (devices.Count == 0)
                throw new RolloutException(RolloutErrorKind.Conflict, $"rollout '{r.Id}' has not assigned its last step's devices yet; wait for the engine's next tick");
            return (r with { State = RolloutState.Completed, UpdatedAt = now, FinishedAt = now }, []);
        });

    /// <summary>Running, paused or halted → aborted: every device the rollout moved gets its previous release back.</summary>
    public Task<RolloutRecord> AbortAsync(string id, string actor, string? reason, CancellationToken ct) =>
        TransitionAsync(id, actor, "aborted", reason, ct, (r, devices, now) => r.State.IsActive()
            ? (r with { State = RolloutState.Aborted, Reason = reason ?? $"aborted by {actor}", UpdatedAt = now, FinishedAt = now },
                RolloutEngine.Revert(devices).ToList())
            : throw WrongState(r, "abort", "running, paused or halted"));

    private async Task<RolloutRecord> TransitionAsync(string id, string actor, string action, string? reason, CancellationToken ct,
        Func<RolloutRecord, IReadOnlyList<RolloutDeviceRecord>, DateTimeOffset, (RolloutRecord Next, IReadOnlyList<RolloutDeviceRecord> Rows)> decide)
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            var r = await store.GetRolloutAsync(id, ct) ?? throw new RolloutException(RolloutErrorKind.NotFound, $"rollout '{id}' does not exist; list them with GET /api/v1/rollouts");
            var devices = await store.ListRolloutDevicesAsync(id, ct);
            var now = time.GetUtcNow();
            var (next, rows) = decide(r, devices, now);
            var detail = rows.Count > 0 ? $"{reason ?? "-"}; previous release re-assigned to {rows.Count} device(s)" : reason;
            if (await store.UpdateRolloutAsync(next, r.Revision, rows, [new RolloutEventRecord(now, actor, action, detail)], ct))
            {
                signal?.Nudge();
                return next with { Revision = r.Revision + 1 };
            }
        }
        throw new RolloutException(RolloutErrorKind.Conflict, $"rollout '{id}' kept changing while '{actor}' tried to apply '{action}'; try again");
    }

    private static RolloutException WrongState(RolloutRecord r, string action, string needed) =>
        new(RolloutErrorKind.Conflict, $"rollout '{r.Id}' is {r.State.Wire()}{(r.Reason is null ? "" : $" ({r.Reason})")}; {action} needs it {needed}");

    /// <summary>The release counter of a registered model from its manifest (<c>releaseCounter</c>).</summary>
    public static long ReleaseCounter(ModelRecord model)
    {
        try
        {
            using var doc = JsonDocument.Parse(model.Manifest);
            if (doc.RootElement.TryGetProperty("releaseCounter", out var c) && c.TryGetInt64(out var counter) && counter >= 1) return counter;
        }
        catch (JsonException)
        {
        }
        throw new RolloutException(RolloutErrorKind.Invalid, $"release {model.Name}@{model.Version} has no release counter ≥ 1 in its manifest; register it again with 'releaseCounter'");
    }

    internal static string Describe(IReadOnlyDictionary<string, string> cohort) =>
        cohort.Count == 0 ? "(all devices)" : string.Join(",", cohort.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
}
