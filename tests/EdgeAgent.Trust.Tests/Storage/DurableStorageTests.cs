using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Tests.Storage;

public sealed class DurableStorageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-durable-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Atomic_write_replaces_the_file_and_leaves_no_temp_file()
    {
        var path = Path.Combine(_dir, "root.json");
        await DurableFile.WriteAsync(path, "one"u8.ToArray(), CancellationToken.None);
        await DurableFile.WriteAsync(path, "two"u8.ToArray(), CancellationToken.None);
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Equal(["root.json"], Directory.EnumerateFiles(_dir).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public void Directory_fsync_goes_through_libc_and_reports_failures()
    {
        DurableFile.SyncDirectory(_dir);
        var e = Assert.Throws<IOException>(() => DurableFile.SyncDirectory(Path.Combine(_dir, "missing")));
        Assert.Contains("errno 2", e.Message);
    }

    [Fact]
    public void State_round_trips_and_any_edit_is_detected()
    {
        var state = new TrustState(3, 10, 9, new Dictionary<string, long> { ["targets.json"] = 4, ["a/b c.json"] = 2 }, DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var bytes = state.ToBytes();
        var back = TrustState.Parse(bytes, "state");
        Assert.Equal(state.RootVersion, back.RootVersion);
        Assert.Equal(state.TimestampVersion, back.TimestampVersion);
        Assert.Equal(state.SnapshotVersion, back.SnapshotVersion);
        Assert.Equal(state.TimeFloor, back.TimeFloor);
        Assert.Equal(2, back.RoleVersions["a/b c.json"]);

        for (var i = 0; i < bytes.Length; i += 7)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x01;
            Assert.Equal(TufFailureKind.State, Assert.Throws<TufException>(() => TrustState.Parse(damaged, "state")).Kind);
        }
        Assert.Equal(TufFailureKind.State, Assert.Throws<TufException>(() => TrustState.Parse(bytes[..^10], "state")).Kind);
    }

    [Fact]
    public void Effective_now_never_goes_below_the_floor()
    {
        var floor = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var state = TrustState.Initial(1, floor);
        Assert.Equal(floor, state.EffectiveNow(DateTimeOffset.UnixEpoch));
        Assert.Equal(floor.AddDays(1), state.EffectiveNow(floor.AddDays(1)));
    }

    [Fact]
    public void Role_file_names_are_url_quoted()
    {
        Assert.Equal("..%2Fx.json", MetadataDirectory.FileNameFor("../x"));
        Assert.Equal("a%3Fb%23c%20d.json", MetadataDirectory.FileNameFor("a?b#c d"));
        Assert.Equal("r%C3%A9le.json", MetadataDirectory.FileNameFor("réle"));
    }
}
