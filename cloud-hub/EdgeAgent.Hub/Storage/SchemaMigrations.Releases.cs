namespace EdgeAgent.Hub.Storage;

public static partial class SchemaMigrations
{
    /// <summary>Releases tables: versions 20–29, appended in order; never edit an applied one.</summary>
    private static partial IReadOnlyList<SchemaMigration> Releases(bool pg)
    {
        string blob = pg ? "BYTEA" : "BLOB";
        return
        [
            new(20, "TUF repository, releases, device assignments",
            [
                // Every metadata file ever published, by the name a client requests (N.ROLE.json; timestamps
                // as N.timestamp.json, served as timestamp.json when newest). UNIQUE (role, version): a version
                // is never reused, even by two hub instances racing (the second insert fails its transaction).
                $"""
                CREATE TABLE tuf_metadata (
                  name TEXT PRIMARY KEY, role TEXT NOT NULL, version BIGINT NOT NULL, sha256 TEXT NOT NULL,
                  content {blob} NOT NULL, published_at BIGINT NOT NULL, UNIQUE (role, version))
                """,
                // Target files by URL path below targets/ (consistent snapshots: HASH.NAME, so rows are immutable).
                $"""
                CREATE TABLE tuf_targets (
                  url_path TEXT PRIMARY KEY, target_path TEXT NOT NULL, sha256 TEXT NOT NULL, length BIGINT NOT NULL,
                  content {blob} NOT NULL, published_at BIGINT NOT NULL)
                """,
                // One row whose update serialises publishers across instances (a row lock in PostgreSQL, the
                // write lock in SQLite) for the whole read-sign-write transaction.
                "CREATE TABLE tuf_publish_lock (id BIGINT PRIMARY KEY, publications BIGINT NOT NULL)",
                "INSERT INTO tuf_publish_lock (id, publications) VALUES (1, 0)",
                """
                CREATE TABLE releases (
                  model TEXT NOT NULL, version TEXT NOT NULL, target_path TEXT NOT NULL, release_counter BIGINT NOT NULL,
                  length BIGINT NOT NULL, sha256 TEXT NOT NULL, targets_version BIGINT NOT NULL,
                  published_by TEXT NOT NULL, published_at BIGINT NOT NULL, PRIMARY KEY (model, version))
                """,
                $"""
                CREATE TABLE device_assignments (
                  device_id TEXT PRIMARY KEY, assignment {blob} NOT NULL, rollout TEXT, role_version BIGINT NOT NULL,
                  updated_at BIGINT NOT NULL)
                """,
            ]),
        ];
    }
}
