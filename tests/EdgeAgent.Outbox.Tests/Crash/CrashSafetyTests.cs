using System.Diagnostics;
using System.Text;
using EdgeAgent.Outbox.Tests.Support;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Outbox.Tests.Crash;

/// <summary>
/// Runs tests/EdgeAgent.Outbox.CrashWriter as a child process (`dotnet &lt;dll&gt;`), kills it with
/// SIGKILL at random moments, and checks that every commit it reported survived exactly once.
/// CI: 100 kills; EDGEAGENT_LONG_TESTS=1: 1000 kills.
/// </summary>
public sealed class CrashSafetyTests
{
    [Fact]
    public async Task Every_commit_reported_before_a_SIGKILL_is_stored_exactly_once_and_the_database_stays_intact()
    {
        var kills = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 1000 : 100;
        var seed = Environment.TickCount;
        using var dir = new TempDirectory();
        // Two independent databases killed side by side: half the wall time for the same number of kills.
        var lanes = await Task.WhenAll(Enumerable.Range(0, 2).Select(lane =>
            KillRepeatedly(dir.File($"outbox-{lane}.db"), kills / 2, new Random(seed + lane), seed)));

        Assert.Equal(kills, lanes.Sum(l => l.Kills));
        foreach (var (path, reported, _, _) in lanes) VerifyAfterCrashes(path, reported, seed);
    }

    /// <summary>
    /// The writer also drains with end-to-end acks: every batch gets a PUBACK at once and the hub acks
    /// only every other one. After each SIGKILL, every committed event is still stored unless the hub
    /// acknowledged it — a PUBACK alone never deletes, and nothing "awaiting the hub" is lost by a crash
    /// (it is simply pending again after the restart). CI: 20 kills; EDGEAGENT_LONG_TESTS=1: 200.
    /// </summary>
    [Fact]
    public async Task A_SIGKILL_while_rows_await_the_hubs_ack_loses_none_of_them()
    {
        var kills = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 200 : 20;
        var seed = Environment.TickCount;
        using var dir = new TempDirectory();
        var (path, reported, _, acks) = await KillRepeatedly(dir.File("outbox-ack.db"), kills, new Random(seed), seed, hubAck: true);

        var acknowledged = acks.Where(a => a.Kind == 'R').SelectMany(a => a.Seqs.Select(s => (a.Boot, s))).ToHashSet();
        var brokerOnly = acks.Where(a => a.Kind == 'S').SelectMany(a => a.Seqs.Select(s => (a.Boot, s))).Where(k => !acknowledged.Contains(k)).ToList();
        Assert.True(acknowledged.Count > 0 && brokerOnly.Count > 0, $"seed {seed}: the drain must have run ({acknowledged.Count} acked, {brokerOnly.Count} PUBACKed only)");
        VerifyAfterCrashes(path, reported, seed, excused: acknowledged);
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT b.boot_id, e.seq FROM events e JOIN boots b ON b.boot = e.boot;";
        using var r = cmd.ExecuteReader();
        var stored = new HashSet<(string, long)>();
        while (r.Read()) stored.Add((r.GetString(0), r.GetInt64(1)));
        var lost = brokerOnly.Where(k => !stored.Contains(k)).Take(5).ToList();
        Assert.True(lost.Count == 0, $"seed {seed}: PUBACKed but never hub-acknowledged events were deleted: {string.Join(", ", lost)}");
    }

    private static async Task<(string Path, List<(string Boot, long From, long To)> Reported, int Kills, List<(char Kind, string Boot, long[] Seqs)> Acks)> KillRepeatedly(
        string path, int kills, Random random, int seed, bool hubAck = false)
    {
        var reported = new List<(string Boot, long From, long To)>();
        var acks = new List<(char Kind, string Boot, long[] Seqs)>();
        for (var k = 0; k < kills; k++)
        {
            var (lines, stderr) = await RunAndKill(path, TimeSpan.FromMilliseconds(random.Next(50, 501)), hubAck);
            foreach (var line in lines.Where(l => l.StartsWith("S ", StringComparison.Ordinal) || l.StartsWith("R ", StringComparison.Ordinal)))
            {
                var parts = line.Split(' ');
                acks.Add((line[0], parts[1], [.. parts[2].Split(',').Select(x => long.Parse(x, System.Globalization.CultureInfo.InvariantCulture))]));
            }
            var ready = lines.FirstOrDefault(l => l.StartsWith("READY ", StringComparison.Ordinal));
            Assert.True(ready is not null, $"kill {k} (seed {seed}): child never got ready. stderr: {stderr}");
            Assert.True(ready.EndsWith(" -", StringComparison.Ordinal), $"kill {k} (seed {seed}): a SIGKILL must never leave a database that gets quarantined: {ready}");
            foreach (var line in lines.Where(l => l.StartsWith("C ", StringComparison.Ordinal)))
            {
                var parts = line.Split(' ');
                reported.Add((parts[1], long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        return (path, reported, kills, acks);
    }

    private static void VerifyAfterCrashes(string path, List<(string Boot, long From, long To)> reported, int seed, HashSet<(string, long)>? excused = null)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        c.Open();
        using (var check = c.CreateCommand())
        {
            check.CommandText = "PRAGMA integrity_check;";
            Assert.Equal("ok", check.ExecuteScalar() as string);
        }
        var stored = new Dictionary<(string, long), int>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT b.boot_id, e.seq FROM events e JOIN boots b ON b.boot = e.boot;";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var key = (r.GetString(0), r.GetInt64(1));
                stored[key] = stored.GetValueOrDefault(key) + 1;
            }
        }
        Assert.DoesNotContain(stored, kv => kv.Value != 1);
        var reportedEvents = 0L;
        foreach (var (boot, from, to) in reported)
        {
            for (var s = from; s <= to; s++)
            {
                if (excused?.Contains((boot, s)) == true) continue; // the hub acknowledged it: deleted on purpose
                Assert.True(stored.ContainsKey((boot, s)), $"seed {seed}: {boot}:{s} was reported committed but is missing");
                reportedEvents++;
            }
        }
        Assert.True(reportedEvents > 1000, $"the writer must have committed a real amount of events before being killed (got {reportedEvents})");
    }

    private static async Task<(List<string> Lines, string Stderr)> RunAndKill(string databasePath, TimeSpan killAfterReady, bool hubAck)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CrashWriterDll);
        psi.ArgumentList.Add(databasePath);
        if (hubAck)
        {
            psi.ArgumentList.Add("-");
            psi.ArgumentList.Add("hub-ack");
        }
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var readOut = Task.Run(async () =>
        {
            var buffer = new byte[8192];
            int n;
            while ((n = await p.StandardOutput.BaseStream.ReadAsync(buffer)) > 0)
            {
                lock (output) output.Write(buffer, 0, n);
            }
        });
        var readErr = p.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Contains(output, "READY") && !p.HasExited && DateTime.UtcNow < deadline) await Task.Delay(5);
        if (!p.HasExited)
        {
            await Task.Delay(killAfterReady);
            p.Kill(entireProcessTree: false); // SIGKILL on Linux
        }
        await p.WaitForExitAsync();
        await readOut;
        var stderr = await readErr;
        // Only lines ended by '\n' count: the kill may cut the last one in half.
        var text = Encoding.UTF8.GetString(output.ToArray());
        var complete = text[..(text.LastIndexOf('\n') + 1)];
        return ([.. complete.Split('\n', StringSplitOptions.RemoveEmptyEntries)], stderr);
    }

    private static bool Contains(MemoryStream s, string marker)
    {
        lock (s) return Encoding.UTF8.GetString(s.GetBuffer(), 0, (int)s.Length).Contains(marker, StringComparison.Ordinal);
    }

    private static string CrashWriterDll
    {
        get
        {
            // .../tests/EdgeAgent.Outbox.Tests/bin/<Configuration>/net10.0/
            var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var tfm = baseDir.Name;
            var configuration = baseDir.Parent!.Name;
            var tests = baseDir.Parent.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(tests, "EdgeAgent.Outbox.CrashWriter", "bin", configuration, tfm, "EdgeAgent.Outbox.CrashWriter.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"crash writer not built at {dll}; build tests/EdgeAgent.Outbox.Tests (it builds the writer first)");
        }
    }
}
