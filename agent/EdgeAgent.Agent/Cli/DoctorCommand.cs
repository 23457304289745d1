using System.CommandLine;
using System.Text.Json;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Doctor;
using EdgeAgent.Onnx;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent doctor</c>: checks what a device needs — ONNX Runtime, configuration, clock, directories
/// and their permissions, free disk, broker reachability, the outbox database's integrity — and says how
/// to fix each failure. Works without the service running (it reads the outbox read-only).
/// Exit 0 all ok, 1 warnings, 2 failures.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var set = ConfigCommand.SetOption();
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var command = new Command("doctor", "Check this device's set-up and say how to fix what is wrong") { config, set, json };
        CliRunner.SetAction(command, async (parse, ct) =>
        {
            var sources = ConfigCommand.Sources(parse.GetValue(config), parse.GetValue(set)!);
            var loaded = AgentConfiguration.Load(sources, SensorsSection.Validate);
            var results = await RunChecksAsync(sources, loaded, ct);
            if (parse.GetValue(json))
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("overall", DoctorRunner.Overall(results).ToString().ToLowerInvariant());
                    w.WriteStartArray("checks");
                    foreach (var r in results)
                    {
                        w.WriteStartObject();
                        w.WriteString("check", r.Check);
                        w.WriteString("status", r.Status.ToString().ToLowerInvariant());
                        w.WriteString("message", r.Message);
                        if (r.Fix is { } fix) w.WriteString("fix", fix);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
            else
                Console.Out.Write(DoctorRunner.Format(results));
            return (int)DoctorRunner.Overall(results);
        });
        return command;
    }

    /// <summary>Every doctor check for this configuration (also what the support bundle includes).</summary>
    internal static Task<IReadOnlyList<DoctorResult>> RunChecksAsync(AgentConfigurationSources sources, AgentConfigurationResult loaded, CancellationToken ct)
    {
        (string, Func<CancellationToken, Task<string>>)? sqlite = null;
        string? db = loaded.Options is { } options ? Path.Combine(options.StateDirectory, Service.AgentService.OutboxFileName) : null;
        if (db is not null && File.Exists(db))
            sqlite = (db, token => IntegrityCheckAsync(db, token));
        var checks = StandardDoctorChecks.Create(loaded.Options, loaded.Problems, () => OnnxRuntime.EnsureLoaded().Version, sqlite, TimeProvider.System, sources.ConfigFile);
        return DoctorRunner.RunAsync(checks, TimeSpan.FromSeconds(10), ct);
    }

    private static async Task<string> IntegrityCheckAsync(string database, CancellationToken ct)
    {
        // Read-only, so doctor can run beside the service without taking its writer lock.
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = database,
            Mode = SqliteOpenMode.ReadOnly,
        }.ToString());
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) lines.Add(reader.GetString(0));
        return string.Join('\n', lines);
    }
}
