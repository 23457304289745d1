namespace EdgeAgent.Outbox.Storage;

/// <summary>
/// Moves a corrupt database aside together with its -wal and -shm files (DESIGN.md §7: quarantined,
/// never silently deleted). The three keep matching names so <c>sqlite3 outbox.db.corrupt-…</c> can
/// still open the set for forensics.
/// </summary>
internal static class DatabaseQuarantine
{
    /// <summary>Renames the files and returns the new database path.</summary>
    /// <exception cref="Queue.OutboxStorageException">A rename failed; nothing was deleted.</exception>
    public static string Quarantine(string path, DateTimeOffset now)
    {
        var stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var target = $"{path}.corrupt-{stamp}";
        for (var n = 1; File.Exists(target) || File.Exists(target + "-wal"); n++)
            target = $"{path}.corrupt-{stamp}-{n}";
        try
        {
            // Order: sidecars first, so a crash in between never leaves a fresh-looking main file
            // next to the old WAL (SQLite would replay that WAL into the new database).
            foreach (var suffix in new[] { "-wal", "-shm", "-journal" })
            {
                if (File.Exists(path + suffix)) File.Move(path + suffix, target + suffix);
            }
            if (File.Exists(path)) File.Move(path, target);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new Queue.OutboxStorageException(
                $"outbox database '{path}' is corrupt and could not be moved aside to '{target}' ({ex.Message}); " +
                "check permissions of its directory. Nothing was deleted.", ex);
        }
        return target;
    }
}
