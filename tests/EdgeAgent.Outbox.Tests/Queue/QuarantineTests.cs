using System.Text.Json;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Outbox.Tests.Queue;

public sealed class QuarantineTests
{
    private static async Task<string> CreateWithEvents(TempDirectory dir, int count)
    {
        var path = dir.File("o.db");
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path));
        for (var i = 0; i < count; i++) await outbox.EnqueueAsync(Events.Telemetry(i, 500));
        await outbox.FlushAsync();
        return path;
    }

    [Fact]
    public async Task A_database_with_a_garbage_header_is_quarantined_with_its_wal_and_a_new_one_works()
    {
        using var dir = new TempDirectory();
        var path = await CreateWithEvents(dir, 50);
        await using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write))
            fs.Write(System.Text.Encoding.ASCII.GetBytes("this is not an SQLite header, garbage garbage garbage garbage garbage garbage garbage!!"));
        await File.WriteAllBytesAsync(path + "-wal", new byte[] { 1, 2, 3 });

        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path));

        var moved = outbox.OpenReport.QuarantinedTo;
        Assert.NotNull(moved);
        Assert.Matches(@"o\.db\.corrupt-\d{8}T\d{6}Z$", moved);
        Assert.True(File.Exists(moved), "the corrupt file is kept, never deleted");
        Assert.True(File.Exists(moved + "-wal"), "its WAL moves with it: " + string.Join(", ", Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f) + ":" + new FileInfo(f).Length)));
        Assert.Contains("26", outbox.OpenReport.QuarantineReason, StringComparison.Ordinal); // SQLITE_NOTADB

        var r = await outbox.AppendAsync(Events.Telemetry(1));
        Assert.True(r.Stored);
        var rows = Events.ReadRows(path);
        var notice = rows[0];
        Assert.Equal(TelemetryEventKind.Notice, notice.Kind);
        var payload = JsonSerializer.Deserialize(notice.Payload, TelemetryJsonContext.Default.OutboxNoticePayload)!;
        Assert.Equal("outbox.quarantined", payload.Code);
        Assert.Equal(moved, payload.Path);
        Assert.True((await outbox.CheckIntegrityAsync()).IsOk);
    }

    [Fact]
    public async Task A_damaged_page_found_by_the_startup_check_is_quarantined()
    {
        using var dir = new TempDirectory();
        var path = await CreateWithEvents(dir, 400);
        var length = new FileInfo(path).Length;
        await using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            // Leave the header (page 1) intact; scribble over the middle of the file.
            fs.Position = length / 2;
            var garbage = new byte[8192];
            new Random(7).NextBytes(garbage);
            fs.Write(garbage);
        }

        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path));

        Assert.NotNull(outbox.OpenReport.QuarantinedTo);
        Assert.Equal(TelemetryEventKind.Notice, Events.ReadRows(path)[0].Kind);
    }

    [Fact]
    public async Task A_database_from_a_newer_agent_is_refused_not_quarantined()
    {
        using var dir = new TempDirectory();
        var path = await CreateWithEvents(dir, 3);
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA user_version=9;";
            cmd.ExecuteNonQuery();
        }

        var ex = await Assert.ThrowsAsync<OutboxStorageException>(() => TelemetryOutbox.OpenAsync(Events.Options(path)));

        Assert.Contains("newer", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.corrupt-*"));
        Assert.Equal(3, Events.ReadRows(path).Count);
    }
}
