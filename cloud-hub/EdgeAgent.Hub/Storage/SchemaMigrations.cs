namespace EdgeAgent.Hub.Storage;

/// <summary>One versioned schema step. Statements run in one transaction together with its row in <c>schema_migrations</c>.</summary>
public sealed record SchemaMigration(int Version, string Name, IReadOnlyList<string> Statements);

/// <summary>
/// The schema, per dialect. Append new versions at the end; never edit an applied one (a database
/// records which versions it has, by number). Times are Unix milliseconds (BIGINT) in both dialects so
/// the stores share their SQL; identity of telemetry is the primary key (device_id, boot_id, seq).
/// </summary>
public static partial class SchemaMigrations
{
    /// <summary>
    /// All migrations of <paramref name="dialect"/>: the core tables (1–19), then each feature's own
    /// list from its partial file, in fixed version ranges so features never collide: releases and
    /// trust 20–29, rollouts 30–39, dashboard 40–49.
    /// </summary>
    public static IReadOnlyList<SchemaMigration> For(string dialect)
    {
        bool pg = dialect == "postgres";
        return [.. Core(pg), .. Releases(pg), .. Rollouts(pg), .. Dashboard(pg)];
    }

    private static partial IReadOnlyList<SchemaMigration> Releases(bool pg);
    private static partial IReadOnlyList<SchemaMigration> Rollouts(bool pg);
    private static partial IReadOnlyList<SchemaMigration> Dashboard(bool pg);

    private static IReadOnlyList<SchemaMigration> Core(bool pg)
    {
        string blob = pg ? "BYTEA" : "BLOB";
        string id = pg ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        var appendOnly = pg
            ? new[]
            {
                """
                CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$
                """,
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
            }
            : new[]
            {
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
                "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
            };

        return
        [
            new(1, "tokens, audit log, devices",
            [
                """
                CREATE TABLE api_tokens (
                  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
                  token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)
                """,
                $"""
                CREATE TABLE audit_log (
                  id {id}, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                  target TEXT, status BIGINT NOT NULL, detail TEXT)
                """,
                .. appendOnly,
                """
                CREATE TABLE devices (
                  id TEXT PRIMARY KEY, labels TEXT NOT NULL, created_at BIGINT NOT NULL,
                  online BIGINT, agent_version TEXT, active_model TEXT, update_state TEXT, health TEXT,
                  status_json TEXT, status_at BIGINT)
                """,
            ]),
            new(2, "telemetry events, gaps, rejected messages",
            [
                $"""
                CREATE TABLE telemetry_events (
                  device_id TEXT NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL,
                  stream TEXT NOT NULL, kind TEXT NOT NULL, ts BIGINT NOT NULL, prio BIGINT NOT NULL,
                  data TEXT, bin {blob}, received_at BIGINT NOT NULL,
                  PRIMARY KEY (device_id, boot_id, seq))
                """,
                "CREATE INDEX telemetry_events_ts ON telemetry_events (ts)",
                """
                CREATE TABLE telemetry_gaps (
                  device_id TEXT NOT NULL, boot_id TEXT NOT NULL, stream TEXT NOT NULL,
                  from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, count BIGINT NOT NULL,
                  reason TEXT NOT NULL, recorded_at BIGINT NOT NULL,
                  PRIMARY KEY (device_id, boot_id, stream, from_seq, to_seq))
                """,
                $"""
                CREATE TABLE rejected_messages (
                  id {id}, at BIGINT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, payload {blob} NOT NULL)
                """,
            ]),
            new(3, "drift windows",
            [
                $"""
                CREATE TABLE drift_windows (
                  device_id TEXT NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL,
                  model TEXT NOT NULL, model_version TEXT NOT NULL, feature TEXT NOT NULL,
                  day TEXT NOT NULL, sketch {blob} NOT NULL,
                  PRIMARY KEY (device_id, boot_id, seq))
                """,
                "CREATE INDEX drift_windows_model_day ON drift_windows (model, model_version, day)",
            ]),
            new(4, "model registry",
            [
                $"""
                CREATE TABLE models (
                  name TEXT NOT NULL, version TEXT NOT NULL, size_bytes BIGINT NOT NULL, sha256 TEXT NOT NULL,
                  contract TEXT NOT NULL, manifest {blob} NOT NULL, reference_profile {blob}, onnx {blob} NOT NULL,
                  registered_by TEXT NOT NULL, registered_at BIGINT NOT NULL,
                  PRIMARY KEY (name, version))
                """,
            ]),
            new(5, "model bundles",
            [
                $"ALTER TABLE models ADD COLUMN bundle {blob}",
            ]),
            new(6, "device revocation",
            [
                // Set by 'edgehub devices revoke'; the row stays so its telemetry and audit trail keep their device.
                "ALTER TABLE devices ADD COLUMN revoked_at BIGINT",
            ]),
            new(7, "cloud inference hard cases",
            [
                // One row per request the cloud tier answered (or could not): the window as the device sent it,
                // its local answer and the cloud's, kept for labeling (issue 7, "cloud inference tier").
                $"""
                CREATE TABLE hard_cases (
                  id {id}, at BIGINT NOT NULL, device_id TEXT NOT NULL, model TEXT NOT NULL,
                  window_index BIGINT NOT NULL, window_end BIGINT NOT NULL, reason TEXT NOT NULL,
                  local_label TEXT NOT NULL, local_confidence DOUBLE PRECISION NOT NULL,
                  cloud_label TEXT, cloud_confidence DOUBLE PRECISION, cloud_model TEXT, error TEXT,
                  request_json TEXT NOT NULL)
                """,
                "CREATE INDEX hard_cases_device ON hard_cases (device_id, at)",
            ]),
        ];
    }
}
