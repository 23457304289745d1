namespace EdgeAgent.Hub.Storage;

public static partial class SchemaMigrations
{
    /// <summary>Rollouts tables: versions 30–39, appended in order; never edit an applied one.</summary>
    private static partial IReadOnlyList<SchemaMigration> Rollouts(bool pg)
    {
        string id = pg ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        return
        [
            new(30, "device update transitions",
            [
                // One row per transition a device reported on edgeagent/v1/{id}/update; the telemetry identity
                // (device, boot, seq) is the key, so a redelivered batch adds nothing.
                """
                CREATE TABLE device_update_events (
                  device_id TEXT NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL,
                  family TEXT NOT NULL, version TEXT NOT NULL, release_counter BIGINT NOT NULL,
                  from_phase TEXT NOT NULL, to_phase TEXT NOT NULL, reason TEXT, code TEXT, metrics TEXT,
                  at BIGINT NOT NULL, received_at BIGINT NOT NULL,
                  PRIMARY KEY (device_id, boot_id, seq))
                """,
                "CREATE INDEX device_update_events_device_at ON device_update_events (device_id, at)",
                // The newest transition per device and family (by the device's own clock): what rollouts read.
                """
                CREATE TABLE device_update_state (
                  device_id TEXT NOT NULL, family TEXT NOT NULL, version TEXT NOT NULL, release_counter BIGINT NOT NULL,
                  phase TEXT NOT NULL, reason TEXT, code TEXT, at BIGINT NOT NULL,
                  PRIMARY KEY (device_id, family))
                """,
            ]),
            new(31, "rollouts",
            [
                """
                CREATE TABLE rollouts (
                  id TEXT PRIMARY KEY, family TEXT NOT NULL, version TEXT NOT NULL, release_counter BIGINT NOT NULL,
                  cohort TEXT NOT NULL, steps TEXT NOT NULL, thresholds TEXT NOT NULL,
                  state TEXT NOT NULL, step_index BIGINT NOT NULL, step_started_at BIGINT NOT NULL, reason TEXT,
                  created_by TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT,
                  revision BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT)
                """,
                // One active rollout per family, enforced by the schema so two hub instances cannot both start one.
                "CREATE UNIQUE INDEX rollouts_one_active_per_family ON rollouts (family) WHERE state IN ('running', 'paused', 'halted')",
                """
                CREATE TABLE rollout_devices (
                  rollout_id TEXT NOT NULL, device_id TEXT NOT NULL, step_index BIGINT NOT NULL, assigned_at BIGINT NOT NULL,
                  previous_target TEXT, action TEXT NOT NULL, published BIGINT NOT NULL,
                  PRIMARY KEY (rollout_id, device_id))
                """,
                $"""
                CREATE TABLE rollout_events (
                  id {id}, rollout_id TEXT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT)
                """,
                "CREATE INDEX rollout_events_rollout ON rollout_events (rollout_id, id)",
            ]),
        ];
    }
}
