using System.Text.Json;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Updates;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Agent.Service;

/// <summary>The update loop's control-socket commands (<c>edgeagent update check|status</c>, <c>edgeagent models rollback</c>).</summary>
public sealed partial class UpdateLoop
{
    /// <summary>Queues a check. Args <c>{"wait": true}</c> answer with the check's result; without, with <c>{"requested": id}</c> at once.</summary>
    public const string CheckCommand = "update.check";

    /// <summary>The <see cref="UpdateLoopStatus"/> as JSON.</summary>
    public const string StatusCommand = "update.status";

    /// <summary>Args <c>{"family": "kws", "reason": "…"}</c> (family optional when one is installed): manual rollback to the previous slot.</summary>
    public const string RollbackCommand = "models.rollback";

    /// <summary>Registers <see cref="CheckCommand"/>, <see cref="StatusCommand"/> and <see cref="RollbackCommand"/>. Handlers are thread safe.</summary>
    public void RegisterControl(ControlCommandRegistry registry)
    {
        registry.Register(CheckCommand, async (args, ct) =>
        {
            var (id, result) = RequestCheck("cli");
            if (args is { ValueKind: JsonValueKind.Object } a && a.TryGetProperty("wait", out var wait) && wait.ValueKind == JsonValueKind.True)
            {
                var done = await result.WaitAsync(ct).ConfigureAwait(false);
                return AgentControlCommands.Build(done.WriteTo);
            }
            return AgentControlCommands.Build(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("requested", id);
                w.WriteEndObject();
            });
        });
        registry.Register(StatusCommand, (_, _) => ValueTask.FromResult(AgentControlCommands.Build(Status.WriteTo)));
        registry.Register(RollbackCommand, async (args, ct) =>
        {
            string? family = null, reason = null;
            if (args is { ValueKind: JsonValueKind.Object } a)
            {
                if (a.TryGetProperty("family", out var f) && f.ValueKind == JsonValueKind.String) family = f.GetString();
                if (a.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String) reason = r.GetString();
            }
            UpdateOutcome outcome;
            try
            {
                outcome = await RequestRollbackAsync(family, reason ?? "requested with 'edgeagent models rollback'", ct).ConfigureAwait(false);
            }
            catch (RollbackUnavailableException e)
            {
                throw new ControlCommandException(ControlErrorCodes.Failed, e.Message, "nothing was changed; 'edgeagent models list' shows the slots");
            }
            catch (Exception e) when (e is UpdateStateException or UpdateRefusedException)
            {
                throw new ControlCommandException(ControlErrorCodes.Failed, $"rollback failed: {e.Message}");
            }
            var name = family ?? SingleInstalledFamily();
            var pointer = new UpdateStateStore(Path.Combine(_modelStore, name)).ReadPointer();
            return AgentControlCommands.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("family", name);
                w.WriteString("phase", outcome.Phase.Wire());
                w.WriteString("from", outcome.Version);
                if (pointer is not null)
                {
                    w.WriteString("active", pointer.ActiveVersion);
                    w.WriteString("slot", pointer.Active);
                }
                if (outcome.Reason is not null) w.WriteString("reason", outcome.Reason);
                w.WriteEndObject();
            });
        });
    }
}
