using System.Text.Json;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// The agent's own control commands besides <c>agent.status</c> (issue 6): <c>models.list</c> reads the model
/// store, <c>telemetry.stats</c> the outbox counters. Results are written with <see cref="Utf8JsonWriter"/>
/// (no reflection: Native AOT). Stateless and thread-safe; handlers may run concurrently.
/// </summary>
internal static class AgentControlCommands
{
    public const string ModelsList = "models.list";
    public const string TelemetryStats = "telemetry.stats";

    /// <summary>
    /// One entry per family directory of <paramref name="modelStore"/>: its <c>slots.json</c> pointer (active
    /// slot, version, release counter, committed, previous slot). A family with no pointer yet (an install in
    /// progress) is listed with <c>installed: false</c>; an unreadable pointer gives its error instead of
    /// failing the whole list, so one damaged family does not hide the others.
    /// </summary>
    public static JsonElement ModelsJson(string modelStore) => Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("modelStore", modelStore);
        w.WriteStartArray("families");
        if (Directory.Exists(modelStore))
        {
            foreach (string family in Directory.GetDirectories(modelStore).Order(StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("name", Path.GetFileName(family));
                try
                {
                    var store = new UpdateStateStore(family);
                    var pointer = store.ReadPointer();
                    w.WriteBoolean("installed", pointer is not null);
                    if (pointer is not null)
                    {
                        w.WriteString("activeSlot", pointer.Active);
                        w.WriteString("activeVersion", pointer.ActiveVersion);
                        w.WriteNumber("activeReleaseCounter", pointer.ActiveReleaseCounter);
                        w.WriteBoolean("committed", pointer.ActiveCommitted);
                        w.WriteNumber("releaseCounterFloor", pointer.ReleaseCounterFloor);
                        if (pointer.Previous is { } previous)
                        {
                            w.WriteString("previousSlot", previous);
                            // Verifying hashes the previous model: acceptable for an operator call, and it
                            // tells whether a rollback target really exists.
                            var prev = new ModelSlotStore(store).TryVerify(previous, true, out string? problem);
                            if (prev is not null) w.WriteString("previousVersion", prev.Manifest.Version);
                            else w.WriteString("previousProblem", problem);
                        }
                        else w.WriteNull("previousSlot");
                        w.WriteNumber("rejectedBundles", pointer.Rejected.Count);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or UpdateStateException or JsonException)
                {
                    w.WriteString("error", e.Message);
                }
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>The outbox statistics: pending events per stream, file sizes against the budget, drop and tombstone counters.</summary>
    public static JsonElement OutboxJson(OutboxStatistics s) => Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("bootId", s.BootId);
        w.WriteStartObject("pendingEvents");
        foreach (var (stream, count) in s.PendingEvents.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
            w.WriteNumber(JsonNamingPolicy.CamelCase.ConvertName(stream.ToString()), count);
        w.WriteEndObject();
        w.WriteNumber("depth", s.PendingEvents.Values.Sum());
        w.WriteNumber("databaseFileBytes", s.DatabaseFileBytes);
        w.WriteNumber("walFileBytes", s.WalFileBytes);
        w.WriteNumber("budgetBytes", s.BudgetBytes);
        w.WriteNumber("appendedEvents", s.AppendedEvents);
        w.WriteNumber("droppedEvents", s.DroppedEvents);
        w.WriteNumber("tombstonesWritten", s.TombstonesWritten);
        w.WriteNumber("mergedWindows", s.MergedWindows);
        w.WriteNumber("diskFullErrors", s.DiskFullErrors);
        w.WriteNumber("rejectedAppends", s.RejectedAppends);
        w.WriteEndObject();
    });

    /// <summary>A control reply written with <see cref="Utf8JsonWriter"/> (no reflection JSON: the agent is AOT).</summary>
    internal static JsonElement Build(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) body(w);
        return JsonDocument.Parse(stream.ToArray()).RootElement.Clone();
    }
}
