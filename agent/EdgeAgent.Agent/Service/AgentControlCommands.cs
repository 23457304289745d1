using System.Diagnostics;
using System.Text.Json;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Onnx;
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
    public const string ModelsShow = "models.show";
    public const string DriftShow = "drift.show";
    public const string PredictCommand = "predict";

    /// <summary>The <c>name</c> argument of <c>models.show</c>: one family directory name, nothing that walks the file system.</summary>
    /// <exception cref="ControlCommandException">Missing or not a plain name.</exception>
    public static string NameArgument(JsonElement? args)
    {
        string? name = args is { ValueKind: JsonValueKind.Object } a && a.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        if (string.IsNullOrWhiteSpace(name))
            throw new ControlCommandException(ControlErrorCodes.BadRequest, "models.show needs {\"name\": FAMILY}", "see 'edgeagent models list' for the names");
        if (name is "." or ".." || name.IndexOfAny(['/', '\\', '\0']) >= 0)
            throw new ControlCommandException(ControlErrorCodes.BadRequest, $"'{name}' is not a model family name");
        return name;
    }

    /// <summary>
    /// One family in detail: the slot pointer, the active model's manifest (contract, windowing, labels, threshold,
    /// latency budget, hardware ids, drift profile, golden vectors), the previous slot and rejected bundles, and
    /// whether the running pipeline serves it.
    /// </summary>
    /// <exception cref="ControlCommandException">No such family (the hint lists the installed ones).</exception>
    public static JsonElement ModelJson(string modelStore, string name, InstalledModel? serving, long? generation)
    {
        string family = Path.Combine(modelStore, name);
        if (!Directory.Exists(family))
        {
            var names = Directory.Exists(modelStore) ? Directory.GetDirectories(modelStore).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList() : [];
            throw new ControlCommandException(ControlErrorCodes.Failed, $"no model family '{name}' in {modelStore}",
                names.Count == 0 ? "no model is installed" : $"installed: {string.Join(", ", names)}");
        }
        var store = new UpdateStateStore(family);
        SlotPointer? pointer;
        try { pointer = store.ReadPointer(); }
        catch (UpdateStateException e) { throw new ControlCommandException(ControlErrorCodes.Failed, e.Message); }
        return Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteBoolean("installed", pointer is not null);
            if (pointer is null) { w.WriteEndObject(); return; }
            var slots = new ModelSlotStore(store);
            var active = slots.TryVerify(pointer.Active, pointer.ActiveCommitted, out string? problem);
            bool isServed = serving is not null && serving.Manifest.Name == name && serving.Slot == pointer.Active;
            w.WriteBoolean("serving", isServed);
            if (isServed && generation is { } g) w.WriteNumber("engineGeneration", g);
            w.WriteString("activeSlot", pointer.Active);
            w.WriteBoolean("committed", pointer.ActiveCommitted);
            w.WriteNumber("releaseCounterFloor", pointer.ReleaseCounterFloor);
            if (active is null) w.WriteString("activeProblem", problem);
            else
            {
                var m = active.Manifest;
                w.WriteString("version", m.Version);
                w.WriteNumber("releaseCounter", m.ReleaseCounter);
                w.WriteString("modelPath", active.ModelPath);
                w.WriteString("modelSha256", m.Model.Sha256);
                w.WriteNumber("modelBytes", m.Model.Length);
                WriteStrings(w, "hardwareIds", m.HardwareIds);
                WriteStrings(w, "labels", m.Labels);
                w.WriteNumber("confidenceThreshold", m.ConfidenceThreshold);
                w.WriteNumber("latencyBudgetMs", m.LatencyBudgetMs);
                w.WriteStartObject("windowing");
                w.WriteNumber("length", m.Windowing.Length);
                w.WriteNumber("stride", m.Windowing.Stride);
                w.WriteNumber("channels", m.Windowing.Channels);
                w.WriteNumber("sampleRateHz", m.Windowing.SampleRateHz);
                w.WriteEndObject();
                WriteTensors(w, "inputs", m.Inputs);
                WriteTensors(w, "outputs", m.Outputs);
                w.WriteNumber("goldenVectors", m.GoldenVectors.Vectors.Count);
                w.WriteNumber("goldenTolerance", m.GoldenVectors.Tolerance);
                if (m.DriftProfile is { } profile) WriteStrings(w, "driftProfileFeatures", profile.Features.Select(f => f.Name).ToList());
                else w.WriteNull("driftProfileFeatures");
            }
            if (pointer.Previous is { } previous)
            {
                w.WriteString("previousSlot", previous);
                var prev = slots.TryVerify(previous, true, out string? prevProblem);
                if (prev is not null) w.WriteString("previousVersion", prev.Manifest.Version);
                else w.WriteString("previousProblem", prevProblem);
            }
            else w.WriteNull("previousSlot");
            WriteStrings(w, "rejectedBundles", pointer.Rejected);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// One inference on the RUNNING model (the live engine, so a hot-swapped model answers): <c>{"input":[…]}</c> is
    /// one model input window, flattened in the model's layout (channels first: all samples of channel 0, then 1, …),
    /// already normalized as the model expects. Answers label, confidence, probabilities and latency.
    /// </summary>
    /// <exception cref="ControlCommandException">No model served, or the input has the wrong length or non-numbers.</exception>
    public static JsonElement Predict(InferenceEngine? engine, InstalledModel? model, JsonElement? args)
    {
        if (engine is null || model is null)
            throw new ControlCommandException(ControlErrorCodes.Failed, "no model is being served", "install one with 'edgeagent bundle install' and restart the agent");
        if (args is not { ValueKind: JsonValueKind.Object } a || !a.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Array)
            throw new ControlCommandException(ControlErrorCodes.BadRequest, "predict needs {\"input\": [numbers]}");
        var values = new float[input.GetArrayLength()];
        int i = 0;
        foreach (var v in input.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out float f))
                throw new ControlCommandException(ControlErrorCodes.BadRequest, $"input[{i}] is not a number");
            values[i++] = f;
        }
        var labels = model.Manifest.Labels;
        float[] output;
        long generation;
        double latencyUs;
        try
        {
            using (var probe = engine.Rent())
            {
                output = new float[probe.Output<float>(0).Length];
                generation = engine.Generation;
                int expected = probe.Input<float>(0).Length;
                if (values.Length != expected)
                    throw new ControlCommandException(ControlErrorCodes.BadRequest,
                        $"the running model {model.Manifest.Name} {model.Manifest.Version} takes {expected} values ({probe.Inputs[0]}); got {values.Length}",
                        $"give one window: {model.Manifest.Windowing.Channels} channels x {model.Manifest.Windowing.Length} samples");
            }
            long start = Stopwatch.GetTimestamp();
            engine.Run<float, float>(values, output);
            latencyUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        catch (Exception e) when (e is ModelContractException or OnnxRuntimeException or ObjectDisposedException)
        {
            throw new ControlCommandException(ControlErrorCodes.Failed, $"inference failed: {e.Message}");
        }
        int best = 0;
        for (int k = 1; k < output.Length; k++) if (output[k] > output[best]) best = k;
        return Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("model", model.Manifest.Name);
            w.WriteString("version", model.Manifest.Version);
            w.WriteString("slot", model.Slot);
            w.WriteNumber("engineGeneration", generation);
            w.WriteString("label", best < labels.Count ? labels[best] : best.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteNumber("confidence", output[best]);
            w.WriteBoolean("belowThreshold", output[best] < model.Manifest.ConfidenceThreshold);
            w.WriteStartArray("probabilities");
            for (int k = 0; k < output.Length; k++)
            {
                w.WriteStartObject();
                w.WriteString("label", k < labels.Count ? labels[k] : k.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteNumber("p", output[k]);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("latencyUs", Math.Round(latencyUs, 1));
            w.WriteEndObject();
        });
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static void WriteTensors(Utf8JsonWriter w, string name, IEnumerable<EdgeAgent.Bundles.Manifest.TensorDescriptor> tensors)
    {
        w.WriteStartArray(name);
        foreach (var t in tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("elementType", t.ElementType);
            w.WriteStartArray("shape");
            foreach (long d in t.Shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

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
