using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// The verbs that ask the running agent over its control socket (issue 6): <c>edgeagent status</c>,
/// <c>edgeagent models list</c>, <c>edgeagent telemetry stats</c>. The socket path comes from the same
/// configuration the service reads (<c>controlSocketPath</c>). Human output by default, <c>--json</c> prints
/// the agent's JSON. Exit 0 answered, 1 not reachable or failed (one line on stderr saying why and what to do),
/// 2 the configuration cannot be read.
/// </summary>
internal static class StatusCommand
{
    public const int ConfigError = 2;

    public static Option<bool> JsonOption() => new("--json") { Description = "print the agent's answer as JSON" };

    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var json = JsonOption();
        var status = new Command("status", "Health, model, MQTT, outbox and inference counters of the running agent") { config, json };
        SetControlAction(status, config, json, async (client, asJson, ct) =>
        {
            var agent = await InvokeAsync(client, "agent.status", ct);
            var host = await InvokeAsync(client, BuiltInCommands.HostStatus, ct);
            if (asJson)
            {
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WritePropertyName("agent");
                    agent.WriteTo(w);
                    w.WritePropertyName("host");
                    host.WriteTo(w);
                    w.WriteEndObject();
                });
            }
            else Console.Out.Write(StatusText.Format(agent, host));
            return CliRunner.Ok;
        });
        return status;
    }

    public static Command CreateModels()
    {
        var config = ConfigCommand.ConfigOption();
        var json = JsonOption();
        var list = new Command("list", "Installed model families and their A/B slots") { config, json };
        SetControlAction(list, config, json, async (client, asJson, ct) =>
        {
            var models = await InvokeAsync(client, "models.list", ct);
            if (asJson) JsonOutput.Write(models.WriteTo);
            else Console.Out.Write(StatusText.FormatModels(models));
            return CliRunner.Ok;
        });
        var showConfig = ConfigCommand.ConfigOption();
        var showJson = JsonOption();
        var name = new Argument<string>("NAME") { Description = "model family, as listed by 'edgeagent models list'" };
        var show = new Command("show", "One model family in detail: contract, windowing, labels, slots, rejected bundles") { name, showConfig, showJson };
        SetControlAction(show, showConfig, showJson, async (client, parse, asJson, ct) =>
        {
            string family = parse.GetValue(name)!;
            var model = await InvokeAsync(client, "models.show", ct, Args(w => w.WriteString("name", family)));
            if (asJson) JsonOutput.Write(model.WriteTo);
            else Console.Out.Write(StatusText.FormatModel(model));
            return CliRunner.Ok;
        });
        return new Command("models", "Models installed on this device (asks the running agent)") { list, show };
    }

    public static Command CreateTelemetry()
    {
        var config = ConfigCommand.ConfigOption();
        var json = JsonOption();
        var stats = new Command("stats", "Outbox depth per stream, disk use, drops and tombstones") { config, json };
        SetControlAction(stats, config, json, async (client, asJson, ct) =>
        {
            var result = await InvokeAsync(client, "telemetry.stats", ct);
            if (asJson) JsonOutput.Write(result.WriteTo);
            else Console.Out.Write(StatusText.FormatTelemetry(result));
            return CliRunner.Ok;
        });
        return new Command("telemetry", "The telemetry outbox of the running agent") { stats };
    }

    private static void SetControlAction(Command command, Option<FileInfo?> config, Option<bool> json,
        Func<ControlClient, bool, CancellationToken, Task<int>> body) =>
        SetControlAction(command, config, json, (client, _, asJson, ct) => body(client, asJson, ct));

    /// <summary>
    /// Runs <paramref name="body"/> with a client for the running agent's control socket (path from the same
    /// configuration the service reads). Not running, no permission, a failed command: one line on stderr, exit 1;
    /// an unreadable configuration: exit 2.
    /// </summary>
    internal static void SetControlAction(Command command, Option<FileInfo?> config, Option<bool> json,
        Func<ControlClient, ParseResult, bool, CancellationToken, Task<int>> body, TimeSpan? timeout = null) =>
        CliRunner.SetAction(command, (parse, ct) =>
            WithControlClientAsync(command, parse, config, client => body(client, parse, parse.GetValue(json), ct), timeout));

    /// <summary>The body of <see cref="SetControlAction(Command, Option{FileInfo?}, Option{bool}, Func{ControlClient, ParseResult, bool, CancellationToken, Task{int}}, TimeSpan?)"/>, for verbs that only sometimes ask the agent.</summary>
    internal static async Task<int> WithControlClientAsync(Command command, ParseResult parse, Option<FileInfo?> config,
        Func<ControlClient, Task<int>> body, TimeSpan? timeout = null)
    {
        var file = parse.GetValue(config);
        var loaded = AgentConfiguration.Load(ConfigCommand.Sources(file, []));
        if (loaded.Options is not { } options)
        {
            foreach (var problem in loaded.Problems) Console.Error.WriteLine($"edgeagent {command.Name}: {problem}");
            return ConfigError;
        }
        try
        {
            return await body(new ControlClient(options.ControlSocketPath, timeout ?? TimeSpan.FromSeconds(10)));
        }
        catch (ControlClientException e)
        {
            Console.Error.WriteLine($"edgeagent {command.Name}: {Explain(e, options.ControlSocketPath, file)}");
            return CliRunner.Failed;
        }
    }

    /// <summary>Not running is the common case: say so and how to start it, in one line.</summary>
    private static string Explain(ControlClientException e, string socket, FileInfo? config)
    {
        if (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported }
            || (e.InnerException is SocketException && !File.Exists(socket)))
        {
            string run = config is null ? "edgeagent run" : $"edgeagent run --config {config.FullName}";
            return $"the agent is not running (nothing listens on {socket}); start it with 'sudo systemctl start edgeagent' or '{run}'";
        }
        return e.Message;
    }

    /// <summary>Arguments of a control request, written as one JSON object.</summary>
    internal static JsonElement Args(Action<Utf8JsonWriter> fields)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            fields(w);
            w.WriteEndObject();
        }
        return JsonDocument.Parse(stream.ToArray()).RootElement.Clone();
    }

    /// <summary>Sends one control command; an error answer becomes a <see cref="ControlClientException"/> with the agent's message and hint.</summary>
    internal static async Task<JsonElement> InvokeAsync(ControlClient client, string command, CancellationToken ct, JsonElement? args = null)
    {
        var response = await client.SendAsync(command, args, cancellationToken: ct);
        if (!response.Ok || response.Error is not null)
        {
            var error = response.Error ?? new ControlError(ControlErrorCodes.Failed, "the agent reported a failure without details");
            throw new ControlClientException(error.Hint is null ? error.Message : $"{error.Message} ({error.Hint})", error);
        }
        return response.Result ?? throw new ControlClientException($"the agent answered '{command}' without a result");
    }
}

/// <summary>Human renderings of the control answers. Tolerates missing fields (an older agent answers less).</summary>
internal static class StatusText
{
    public static string Format(JsonElement agent, JsonElement host)
    {
        var b = new StringBuilder();
        bool ready = Bool(host, "ready");
        b.AppendLine($"agent:      {Str(agent, "deviceId")} {(ready ? "READY" : "NOT READY")}: {Str(host, "status") ?? Str(agent, "status")}");
        b.AppendLine($"process:    pid {Num(host, "processId")}, up {TimeSpan.FromSeconds(Math.Floor(Dbl(host, "uptimeSeconds"))):c}");
        string watchdog = host.TryGetProperty("watchdogPingSeconds", out var ping) && ping.ValueKind == JsonValueKind.Number
            ? $"ping every {ping.GetDouble():0.###} s, {Num(host, "watchdogPings")} sent"
            : "not enabled (not under systemd with WatchdogSec)";
        b.AppendLine($"watchdog:   {watchdog}");
        if (host.TryGetProperty("stalledSources", out var stalled) && stalled.ValueKind == JsonValueKind.Array && stalled.GetArrayLength() > 0)
            b.AppendLine($"stalled:    {string.Join(", ", stalled.EnumerateArray().Select(s => s.GetString()))}");
        if (agent.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.Object)
            b.AppendLine($"model:      {Str(m, "name")} {Str(m, "version")} (slot {Str(m, "slot")}, {(Bool(m, "committed") ? "committed" : "on probation")})");
        else b.AppendLine("model:      none installed");
        b.AppendLine($"mqtt:       {Str(agent, "mqtt")}{(Str(agent, "mqttBroker") is { } broker ? $" ({broker})" : "")}");
        b.AppendLine($"outbox:     {Num(agent, "outboxDepth")} events pending, {Num(agent, "outboxDiskBytes")} bytes on disk");
        if (agent.TryGetProperty("inference", out var i) && i.ValueKind == JsonValueKind.Object)
            b.AppendLine($"inference:  {Num(i, "windows")} windows: {Num(i, "local")} local, {Num(i, "cloud")} cloud, {Num(i, "fallback")} fallback; {Num(i, "badSamples")} bad samples");
        if (agent.TryGetProperty("lastErrors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            foreach (var e in errors.EnumerateArray())
                b.AppendLine($"error:      {Str(e, "last")} {Str(e, "source")}: {Str(e, "message")}{(e.TryGetProperty("count", out var c) && c.GetInt32() > 1 ? $" (x{c.GetInt32()})" : "")}");
        return b.ToString();
    }

    public static string FormatModels(JsonElement models)
    {
        var b = new StringBuilder();
        int n = 0;
        foreach (var f in models.GetProperty("families").EnumerateArray())
        {
            n++;
            if (f.TryGetProperty("error", out var error)) { b.AppendLine($"{Str(f, "name")}: unreadable: {error.GetString()}"); continue; }
            if (!Bool(f, "installed")) { b.AppendLine($"{Str(f, "name")}: not installed yet"); continue; }
            string previous = f.TryGetProperty("previousVersion", out var pv) ? $"{pv.GetString()} in slot {Str(f, "previousSlot")}"
                : f.TryGetProperty("previousProblem", out var pp) ? $"slot {Str(f, "previousSlot")} unusable: {pp.GetString()}" : "none";
            b.AppendLine($"{Str(f, "name")}: {Str(f, "activeVersion")} in slot {Str(f, "activeSlot")} (release {Num(f, "activeReleaseCounter")}, "
                + $"{(Bool(f, "committed") ? "committed" : "on probation")}); previous: {previous}");
        }
        if (n == 0) b.AppendLine($"no model installed in {Str(models, "modelStore")}; install one with 'edgeagent bundle install'");
        return b.ToString();
    }

    public static string FormatModel(JsonElement m)
    {
        var b = new StringBuilder();
        if (!Bool(m, "installed")) return $"{Str(m, "name")}: not installed yet (an install is in progress or failed)\n";
        b.AppendLine($"model:      {Str(m, "name")} {Str(m, "version") ?? "?"} in slot {Str(m, "activeSlot")} ({(Bool(m, "committed") ? "committed" : "on probation")}){(Bool(m, "serving") ? ", serving now" : "")}");
        if (Str(m, "activeProblem") is { } problem) b.AppendLine($"problem:    {problem}");
        b.AppendLine($"release:    counter {Num(m, "releaseCounter")} (floor {Num(m, "releaseCounterFloor")}); hardware {Join(m, "hardwareIds")}");
        if (m.TryGetProperty("windowing", out var w))
            b.AppendLine($"window:     {Num(w, "channels")} channels x {Num(w, "length")} samples, stride {Num(w, "stride")}, {Num(w, "sampleRateHz")} Hz");
        b.AppendLine($"labels:     {Join(m, "labels")} (hard below confidence {Num(m, "confidenceThreshold")})");
        b.AppendLine($"budget:     {Num(m, "latencyBudgetMs")} ms p99; {Num(m, "goldenVectors")} golden vectors, tolerance {Num(m, "goldenTolerance")}");
        foreach (var kind in new[] { "inputs", "outputs" })
            if (m.TryGetProperty(kind, out var tensors) && tensors.ValueKind == JsonValueKind.Array)
                foreach (var t in tensors.EnumerateArray())
                    b.AppendLine($"{kind[..^1],-11} {Str(t, "name")} {Str(t, "elementType")} [{string.Join(",", t.GetProperty("shape").EnumerateArray().Select(d => d.GetRawText()))}]");
        b.AppendLine($"drift:      {(m.TryGetProperty("driftProfileFeatures", out var f) && f.ValueKind == JsonValueKind.Array ? "reference profile for " + Join(m, "driftProfileFeatures") : "no reference profile")}");
        b.AppendLine($"file:       {Str(m, "modelPath")} ({Num(m, "modelBytes")} bytes, sha256 {Str(m, "modelSha256")})");
        string previous = Str(m, "previousVersion") is { } pv ? $"{pv} in slot {Str(m, "previousSlot")}"
            : Str(m, "previousProblem") is { } pp ? $"slot {Str(m, "previousSlot")} unusable: {pp}" : "none";
        b.AppendLine($"previous:   {previous}");
        if (m.TryGetProperty("rejectedBundles", out var rejected) && rejected.GetArrayLength() > 0)
            b.AppendLine($"rejected:   {Join(m, "rejectedBundles")}");
        return b.ToString();
    }

    private static string Join(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? string.Join(", ", v.EnumerateArray().Select(x => x.GetString())) : "";

    public static string FormatTelemetry(JsonElement s)
    {
        var b = new StringBuilder();
        b.AppendLine($"pending:    {Num(s, "depth")} events ("
            + string.Join(", ", s.GetProperty("pendingEvents").EnumerateObject().Select(p => $"{p.Name} {p.Value.GetInt64()}")) + ")");
        b.AppendLine($"disk:       {Num(s, "databaseFileBytes")} bytes database + {Num(s, "walFileBytes")} bytes WAL, budget {Num(s, "budgetBytes")} bytes");
        b.AppendLine($"appended:   {Num(s, "appendedEvents")}; dropped {Num(s, "droppedEvents")}, tombstones {Num(s, "tombstonesWritten")}, "
            + $"merged windows {Num(s, "mergedWindows")}, disk-full errors {Num(s, "diskFullErrors")}, rejected {Num(s, "rejectedAppends")}");
        return b.ToString();
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
    private static double Dbl(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
    private static string Num(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetRawText() : "?";
}
