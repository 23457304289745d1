using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Cli;

/// <summary>
/// <c>edgehub rollouts create|list|show|promote|pause|resume|abort --store …</c>: the operator actions of
/// <see cref="RolloutService"/> applied to the store directly (the running hub's engine picks the change
/// up at its next tick), each with a <c>cli (user)</c> audit row. Refusals are one line and exit code 1.
/// </summary>
public static partial class HubCli
{
    static partial void AddRolloutCommands(RootCommand root)
    {
        var rollouts = new Command("rollouts", "Staged rollouts of a model release to a device cohort (canary steps, automatic halt and rollback on ML health)");
        rollouts.Subcommands.Add(RolloutCreate());
        rollouts.Subcommands.Add(RolloutList());
        rollouts.Subcommands.Add(RolloutShow());
        rollouts.Subcommands.Add(RolloutAction("promote", "Start the next step now (completes on the last step)", (s, id, actor, reason, ct) => s.PromoteAsync(id, actor, reason, ct)));
        rollouts.Subcommands.Add(RolloutAction("pause", "Stop advancing (health is still watched)", (s, id, actor, reason, ct) => s.PauseAsync(id, actor, reason, ct)));
        rollouts.Subcommands.Add(RolloutAction("resume", "Continue a paused rollout", (s, id, actor, reason, ct) => s.ResumeAsync(id, actor, reason, ct)));
        rollouts.Subcommands.Add(RolloutAction("abort", "Stop and give every device the rollout moved its previous release back", (s, id, actor, reason, ct) => s.AbortAsync(id, actor, reason, ct)));
        root.Subcommands.Add(rollouts);
    }

    private static string CliActor => $"cli ({Environment.UserName})";

    private static Command RolloutCreate()
    {
        var store = StoreOption();
        var family = new Option<string>("--family") { Description = "model family (registered model name)", Required = true };
        var version = new Option<string>("--version") { Description = "release version (registered model version)", Required = true };
        var id = new Option<string?>("--id") { Description = "rollout id (default FAMILY-VERSION-xxxxxx)" };
        var cohort = new Option<string[]>("--cohort") { Description = "device label KEY=VALUE that must match (repeatable; none = every device)", DefaultValueFactory = _ => [] };
        var steps = new Option<string>("--steps") { Description = "canary percentages, comma-separated, ending at 100", DefaultValueFactory = _ => "5,25,50,100" };
        var bake = new Option<long>("--bake-seconds") { Description = "bake time of each step", DefaultValueFactory = _ => 600 };
        var minDevices = new Option<int>("--min-devices") { Description = "devices that must have committed before a step passes", DefaultValueFactory = _ => 1 };
        var d = RolloutThresholds.Default;
        var maxRefusal = ThresholdOption("--max-refusal-ratio", "refused over reporting devices", d.MaxRefusalRatio);
        var maxRollback = ThresholdOption("--max-rollback-ratio", "rolled back over reporting devices", d.MaxRollbackRatio);
        var maxFallback = ThresholdOption("--max-fallback-rate", "fallback predictions over predictions", d.MaxFallbackRate);
        var minConfidence = ThresholdOption("--min-mean-confidence", "mean local confidence", d.MinMeanConfidence);
        var maxPsi = ThresholdOption("--max-drift-psi", "largest feature PSI against the release's reference profile", d.MaxDriftPsi);
        var minPredictions = new Option<int>("--min-predictions") { Description = "predictions needed before fallback rate and confidence are judged", DefaultValueFactory = _ => d.MinPredictions };
        var minSamples = new Option<long>("--min-drift-samples") { Description = "samples of a feature needed before its PSI is judged", DefaultValueFactory = _ => d.MinDriftSamples };
        var cmd = new Command("create", "Start a rollout (thresholds: a value, or 'off')")
        {
            store, family, version, id, cohort, steps, bake, minDevices, maxRefusal, maxRollback, maxFallback, minConfidence, maxPsi, minPredictions, minSamples,
        };
        SetAction(cmd, async (p, ct) =>
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in p.GetValue(cohort)!)
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) throw new CliUsageException($"--cohort '{pair}' is not KEY=VALUE");
                labels[pair[..eq]] = pair[(eq + 1)..];
            }
            var stepList = new List<RolloutStep>();
            foreach (var part in p.GetValue(steps)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!double.TryParse(part.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var percent))
                    throw new CliUsageException($"--steps '{part}' is not a percentage");
                stepList.Add(new RolloutStep(percent, p.GetValue(bake), p.GetValue(minDevices)));
            }
            var thresholds = new RolloutThresholds
            {
                MaxRefusalRatio = Threshold(p, maxRefusal), MaxRollbackRatio = Threshold(p, maxRollback), MaxFallbackRate = Threshold(p, maxFallback),
                MinMeanConfidence = Threshold(p, minConfidence), MaxDriftPsi = Threshold(p, maxPsi),
                MinPredictions = p.GetValue(minPredictions), MinDriftSamples = p.GetValue(minSamples),
            };
            await using var s = HubStores.Open(p.GetValue(store)!);
            await s.MigrateAsync(ct);
            var created = await RolloutCliAsync(() => new RolloutService(s, TimeProvider.System)
                .CreateAsync(new CreateRolloutRequest(p.GetValue(family), p.GetValue(version), labels, stepList, thresholds, p.GetValue(id)), CliActor, ct));
            await s.AppendAuditAsync(new AuditEntry(0, DateTimeOffset.UtcNow, CliActor, "rollouts create", created.Id, 0,
                $"{created.Family}@{created.Version} cohort {RolloutService.Describe(created.Cohort)}"), ct);
            Console.WriteLine(created.Id);
            Console.Error.WriteLine($"rollout {created.Id}: {created.Family}@{created.Version} (counter {created.ReleaseCounter}) starts at {RolloutHealthProbe.Figure(created.Steps[0].Percent)}% at the hub's next tick");
            return Ok;
        });
        return cmd;
    }

    private static Option<string> ThresholdOption(string name, string what, double? defaultValue) => new(name)
    {
        Description = $"limit on {what} (number, or 'off')",
        DefaultValueFactory = _ => defaultValue is { } v ? v.ToString(CultureInfo.InvariantCulture) : "off",
    };

    private static double? Threshold(ParseResult p, Option<string> option)
    {
        var text = p.GetValue(option)!;
        if (text == "off") return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new CliUsageException($"{option.Name} '{text}' is neither a number nor 'off'");
    }

    private static Command RolloutList()
    {
        var store = StoreOption();
        var json = new Option<bool>("--json") { Description = "print JSON (as GET /api/v1/rollouts)" };
        var cmd = new Command("list", "List rollouts, newest first") { store, json };
        SetAction(cmd, async (p, ct) =>
        {
            await using var s = HubStores.Open(p.GetValue(store)!);
            await s.MigrateAsync(ct);
            var views = (await s.ListRolloutsAsync(ct)).Select(RolloutSummaryView.From).ToList();
            if (p.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(views, RolloutJsonContext.Api.ListRolloutSummaryView));
                return Ok;
            }
            foreach (var v in views)
                Console.WriteLine($"{v.Id}  {v.Family}@{v.Version}  {v.State,-11}  step {v.Step}/{v.Steps} ({RolloutHealthProbe.Figure(v.Percent)}%)  {v.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}{(v.Reason is null ? "" : "  " + v.Reason)}");
            return Ok;
        });
        return cmd;
    }

    private static Command RolloutShow()
    {
        var store = StoreOption();
        var id = new Argument<string>("ID") { Description = "rollout id" };
        var json = new Option<bool>("--json") { Description = "print JSON (as GET /api/v1/rollouts/{id})" };
        var cmd = new Command("show", "One rollout: steps, device states, health against the thresholds, history") { id, store, json };
        SetAction(cmd, async (p, ct) =>
        {
            await using var s = HubStores.Open(p.GetValue(store)!);
            await s.MigrateAsync(ct);
            var v = await new RolloutInspector(s, TimeProvider.System).DescribeAsync(p.GetValue(id)!, ct)
                    ?? throw new CliUsageException($"rollout '{p.GetValue(id)}' does not exist; see 'edgehub rollouts list'");
            if (p.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(v, RolloutJsonContext.Api.RolloutDetailView));
                return Ok;
            }
            var h = v.Health;
            Console.WriteLine($"rollout {v.Id}: {v.Family}@{v.Version} (counter {v.ReleaseCounter}) {v.State}, step {v.Step}/{v.Steps.Count}");
            if (v.Reason is not null) Console.WriteLine($"reason: {v.Reason}");
            if (v.WaitingFor is not null) Console.WriteLine($"waiting for: {v.WaitingFor}");
            Console.WriteLine($"cohort {RolloutService.Describe(v.Cohort)}: {v.CohortSize} device(s); {h.Assigned} moved, {v.Unpublished} assignment(s) not yet published");
            foreach (var st in v.Steps)
                Console.WriteLine($"  step {st.Step} {RolloutHealthProbe.Figure(st.Percent),5}%  {st.Status,-7}  {st.AssignedDevices}/{st.TargetDevices} assigned, {st.CommittedDevices} committed, bake {st.BakeSeconds} s, min {st.MinDevices}");
            Console.WriteLine($"devices: {string.Join(", ", v.DeviceStates.Select(kv => $"{kv.Key} {kv.Value}"))}");
            var t = v.Thresholds;
            Console.WriteLine($"health: refusal {Show(h.RefusalRatio)} (max {Show(t.MaxRefusalRatio)}), rollback {Show(h.RollbackRatio)} (max {Show(t.MaxRollbackRatio)}), " +
                              $"fallback {Show(h.FallbackRate)} (max {Show(t.MaxFallbackRate)}), confidence {Show(h.MeanConfidence)} (min {Show(t.MinMeanConfidence)}) over {h.Predictions} predictions, " +
                              $"drift PSI {Show(h.DriftPsi)} (max {Show(t.MaxDriftPsi)}){(h.DriftFeature is null ? "" : $" on {h.DriftFeature}")}");
            foreach (var e in v.History) Console.WriteLine($"  {e.At:yyyy-MM-ddTHH:mm:ssZ}  {e.Actor}  {e.Action}{(e.Detail is null ? "" : ": " + e.Detail)}");
            return Ok;
        });
        return cmd;

        static string Show(double? x) => x is { } v ? RolloutHealthProbe.Figure(v) : "-";
    }

    private static Command RolloutAction(string verb, string description, Func<RolloutService, string, string, string?, CancellationToken, Task<RolloutRecord>> action)
    {
        var store = StoreOption();
        var id = new Argument<string>("ID") { Description = "rollout id" };
        var reason = new Option<string?>("--reason") { Description = "why (kept in the rollout's history and the audit log)" };
        var cmd = new Command(verb, description) { id, store, reason };
        SetAction(cmd, async (p, ct) =>
        {
            await using var s = HubStores.Open(p.GetValue(store)!);
            await s.MigrateAsync(ct);
            var rolloutId = p.GetValue(id)!;
            RolloutRecord r;
            try
            {
                r = await action(new RolloutService(s, TimeProvider.System), rolloutId, CliActor, p.GetValue(reason), ct);
            }
            catch (RolloutException e)
            {
                await s.AppendAuditAsync(new AuditEntry(0, DateTimeOffset.UtcNow, CliActor, $"rollouts {verb}", rolloutId, 1, e.Message), ct);
                throw new CliUsageException(e.Message);
            }
            await s.AppendAuditAsync(new AuditEntry(0, DateTimeOffset.UtcNow, CliActor, $"rollouts {verb}", rolloutId, 0, p.GetValue(reason)), ct);
            Console.WriteLine($"rollout {r.Id}: {r.State.Wire()}, step {r.StepIndex + 1}/{r.Steps.Count}");
            return Ok;
        });
        return cmd;
    }

    private static async Task<T> RolloutCliAsync<T>(Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (RolloutException e)
        {
            throw new CliUsageException(e.Message);
        }
    }
}
