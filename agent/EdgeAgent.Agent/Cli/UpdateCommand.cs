using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Service;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// Update verbs that ask the running agent's update loop over the control socket (issue 6):
/// <c>edgeagent update check</c> (queue a check, follow it with a progress bar on a terminal, print the outcome),
/// <c>edgeagent update status</c> and <c>edgeagent models rollback FAMILY</c>. Human output by default, <c>--json</c>
/// prints the agent's JSON. Exit codes: 0 done (up to date, updated, rolled back on request), 1 the agent is not
/// reachable or the check failed (offline, refused metadata), 2 configuration unreadable, 3 the assigned release was
/// refused or rolled back by its health window (the device keeps its model), 4 nothing to roll back.
/// </summary>
internal static class UpdateCommand
{
    public const int Refused = 3;
    public const int NothingToRollBack = 4;

    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var json = StatusCommand.JsonOption();
        var timeout = new Option<TimeSpan>("--timeout") { Description = "how long to wait for the check's outcome (a health window can take minutes)", DefaultValueFactory = _ => TimeSpan.FromMinutes(30) };
        var check = new Command("check", "Ask the agent to check for an assigned model update now and wait for the outcome") { config, json, timeout };
        SetControlAction(check, config, async (client, parse, ct) =>
        {
            var asJson = parse.GetValue(json);
            var requested = await InvokeAsync(client, UpdateLoop.CheckCommand, null, ct);
            long id = requested.GetProperty("requested").GetInt64();
            var progress = !asJson && !Console.IsOutputRedirected ? new ProgressLine() : null;
            var deadline = DateTime.UtcNow + parse.GetValue(timeout);
            while (true)
            {
                var status = await InvokeAsync(client, UpdateLoop.StatusCommand, null, ct);
                if (status.TryGetProperty("lastCheck", out var last) && last.GetProperty("id").GetInt64() >= id)
                {
                    progress?.Clear();
                    if (asJson) JsonOutput.Write(last.WriteTo);
                    else Console.Out.Write(FormatCheck(last));
                    return last.GetProperty("result").GetString() switch
                    {
                        "up-to-date" or "updated" or "no-assignment" => CliRunner.Ok,
                        "refused" or "rolled-back" or "assignment-refused" => Refused,
                        _ => CliRunner.Failed,
                    };
                }
                progress?.Show(status);
                if (DateTime.UtcNow > deadline)
                {
                    progress?.Clear();
                    Console.Error.WriteLine($"edgeagent update check: check #{id} has not finished after {parse.GetValue(timeout)}; it goes on in the agent ('edgeagent update status' follows it)");
                    return CliRunner.Failed;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            }
        });

        var statusConfig = ConfigCommand.ConfigOption();
        var statusJson = StatusCommand.JsonOption();
        var status = new Command("status", "Update state of the running agent: phase, target, download progress, last outcome") { statusConfig, statusJson };
        SetControlAction(status, statusConfig, async (client, parse, ct) =>
        {
            var result = await InvokeAsync(client, UpdateLoop.StatusCommand, null, ct);
            if (parse.GetValue(statusJson)) JsonOutput.Write(result.WriteTo);
            else Console.Out.Write(FormatStatus(result));
            return CliRunner.Ok;
        });
        return new Command("update", "Model updates of the running agent") { check, status };
    }

    /// <summary><c>edgeagent models rollback FAMILY</c>; the lead adds it under the <c>models</c> command.</summary>
    public static Command CreateRollback()
    {
        var config = ConfigCommand.ConfigOption();
        var json = StatusCommand.JsonOption();
        var family = new Argument<string>("FAMILY") { Description = "model family to roll back to its previous slot (see 'edgeagent models list')" };
        var reason = new Option<string?>("--reason") { Description = "why (reported to the hub with the rollback)" };
        var rollback = new Command("rollback", "Serve the previous slot of a model family again; the current release is not installed again") { family, config, json, reason };
        SetControlAction(rollback, config, async (client, parse, ct) =>
        {
            var args = AgentControlCommands.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("family", parse.GetValue(family));
                if (parse.GetValue(reason) is { } r) w.WriteString("reason", r);
                w.WriteEndObject();
            });
            var response = await client.SendAsync(UpdateLoop.RollbackCommand, args, ct);
            if (!response.Ok || response.Error is not null)
            {
                var error = response.Error ?? new ControlError(ControlErrorCodes.Failed, "the agent reported a failure without details");
                if (parse.GetValue(json)) JsonOutput.Write(w => { w.WriteStartObject(); w.WriteString("error", error.Message); w.WriteEndObject(); });
                Console.Error.WriteLine($"edgeagent models rollback: {error.Message}{(error.Hint is null ? "" : $" ({error.Hint})")}");
                return error.Code == ControlErrorCodes.Failed ? NothingToRollBack : CliRunner.Failed;
            }
            var result = response.Result!.Value;
            if (parse.GetValue(json)) JsonOutput.Write(result.WriteTo);
            else Console.Out.WriteLine($"{result.GetProperty("family").GetString()}: rolled back from {result.GetProperty("from").GetString()} to {Str(result, "active")} (slot {Str(result, "slot")})");
            return CliRunner.Ok;
        });
        return rollback;
    }

    internal static string FormatCheck(JsonElement check)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"update check #{check.GetProperty("id").GetInt64()} ({check.GetProperty("trigger").GetString()}): {check.GetProperty("result").GetString()}");
        if (Str(check, "detail") is { } detail) sb.Append(CultureInfo.InvariantCulture, $" — {detail}");
        sb.AppendLine();
        foreach (var f in check.GetProperty("families").EnumerateArray())
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {f.GetProperty("family").GetString()}: {f.GetProperty("target").GetString()} {f.GetProperty("phase").GetString()}");
            if (Str(f, "reason") is { } reason) sb.Append(CultureInfo.InvariantCulture, $" — {reason}");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    internal static string FormatStatus(JsonElement s)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"state:      {s.GetProperty("state").GetString()}");
        if (Str(s, "family") is { } family)
            sb.Append(CultureInfo.InvariantCulture, $" ({family} {Str(s, "version")} {Str(s, "phase")}, {Str(s, "target")})");
        sb.AppendLine();
        if (s.TryGetProperty("downloadProgress", out var p))
            sb.AppendLine(CultureInfo.InvariantCulture, $"download:   {p.GetDouble():P0} of {s.GetProperty("totalBytes").GetInt64()} bytes");
        if (s.TryGetProperty("lastCheck", out var last)) sb.Append("last check: ").Append(FormatCheck(last));
        else sb.AppendLine("last check: none yet");
        if (s.TryGetProperty("lastEvent", out var e))
            sb.AppendLine(CultureInfo.InvariantCulture, $"last event: {Str(e, "family")} {Str(e, "version")} {Str(e, "from")} -> {Str(e, "to")}{(Str(e, "reason") is { } r ? $" — {r}" : "")}");
        if (s.TryGetProperty("nextCheckAt", out var next)) sb.AppendLine(CultureInfo.InvariantCulture, $"next check: {next.GetString()}");
        if (Str(s, "lastError") is { } error) sb.AppendLine(CultureInfo.InvariantCulture, $"last error: {error}");
        return sb.ToString();
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>One terminal line redrawn in place: phase, and a bar while downloading.</summary>
    private sealed class ProgressLine
    {
        private int _width;

        public void Show(JsonElement status)
        {
            var text = $"{status.GetProperty("state").GetString()}";
            if (Str(status, "family") is { } family) text += $" {family} {Str(status, "version")}: {Str(status, "phase")}";
            if (status.TryGetProperty("downloadProgress", out var p))
            {
                var filled = (int)Math.Round(p.GetDouble() * 30);
                text += $" [{new string('#', filled)}{new string('.', 30 - filled)}] {p.GetDouble():P0}";
            }
            Console.Out.Write("\r" + text.PadRight(_width));
            _width = text.Length;
        }

        public void Clear()
        {
            if (_width > 0) Console.Out.Write("\r" + new string(' ', _width) + "\r");
        }
    }

    private static void SetControlAction(Command command, Option<FileInfo?> config, Func<ControlClient, ParseResult, CancellationToken, Task<int>> body) =>
        CliRunner.SetAction(command, async (parse, ct) =>
        {
            var file = parse.GetValue(config);
            var loaded = AgentConfiguration.Load(ConfigCommand.Sources(file, []));
            if (loaded.Options is not { } options)
            {
                foreach (var problem in loaded.Problems) Console.Error.WriteLine($"edgeagent {command.Name}: {problem}");
                return StatusCommand.ConfigError;
            }
            try
            {
                return await body(new ControlClient(options.ControlSocketPath, TimeSpan.FromSeconds(30)), parse, ct);
            }
            catch (ControlClientException e)
            {
                var notRunning = e.InnerException is SocketException;
                Console.Error.WriteLine(notRunning
                    ? $"edgeagent {command.Name}: the agent is not running (nothing listens on {options.ControlSocketPath}); start it with 'sudo systemctl start edgeagent'"
                    : $"edgeagent {command.Name}: {e.Message}");
                return CliRunner.Failed;
            }
        });

    private static async Task<JsonElement> InvokeAsync(ControlClient client, string command, JsonElement? args, CancellationToken ct)
    {
        var response = await client.SendAsync(command, args, ct);
        if (!response.Ok || response.Error is not null)
        {
            var error = response.Error ?? new ControlError(ControlErrorCodes.Failed, "the agent reported a failure without details");
            var hint = error.Code == ControlErrorCodes.UnknownCommand ? "the running agent has no update loop: configure the 'updates' section and restart it" : error.Hint;
            throw new ControlClientException(hint is null ? error.Message : $"{error.Message} ({hint})", error);
        }
        return response.Result ?? default;
    }
}
