using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Trust.Tests.Infrastructure;

/// <summary>
/// One repository (real signing keys), one real HTTP server on loopback, one device metadata
/// directory initialised from the repository's root. Each test gets its own.
/// </summary>
public sealed class TufTestBed : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private TufTestBed(string dir)
    {
        Directory = dir;
        MetadataDir = Path.Combine(dir, "metadata");
        TargetDir = Path.Combine(dir, "targets");
        System.IO.Directory.CreateDirectory(TargetDir);
        Clock = new ManualClock(Start);
        Repo = new TufRepository(Clock);
        Server = new RepositoryHttpServer();
        Fetcher = new HttpTufFetcher(time: Clock) { CheckInterval = TimeSpan.FromMilliseconds(50) };
    }

    public string Directory { get; }
    public string MetadataDir { get; }
    public string TargetDir { get; }
    public ManualClock Clock { get; }
    public TufRepository Repo { get; }
    public RepositoryHttpServer Server { get; }
    public HttpTufFetcher Fetcher { get; }

    /// <summary>A published repository with one target and an initialised device.</summary>
    public static async Task<TufTestBed> CreateAsync(Action<TufRepository>? configure = null)
    {
        var bed = new TufTestBed(System.IO.Directory.CreateTempSubdirectory("edgeagent-tuf-").FullName);
        bed.Repo.AddTarget("models/kws/1.bundle", "bundle-v1 payload"u8.ToArray(), EdgeAgent.Trust.Json.Cj.Obj(("release", EdgeAgent.Trust.Json.Cj.Int(1))));
        configure?.Invoke(bed.Repo);
        bed.Repo.Publish();
        bed.Sync();
        await TufClient.InitializeAsync(bed.MetadataDir, bed.Repo.RootBytes, bed.Clock, CancellationToken.None);
        return bed;
    }

    /// <summary>Copies the repository's published files to the server.</summary>
    public void Sync() => Server.Load(Repo.Files);

    public TufClient NewClient(Action<TufClientOptions>? tweak = null, TufClientOptions? options = null) =>
        new(options ?? new TufClientOptions
        {
            MetadataDirectory = MetadataDir,
            MetadataBaseUri = Server.MetadataUri,
            TargetBaseUri = Server.TargetsUri,
        }, Fetcher, Clock);

    public Task RefreshAsync() => NewClient().RefreshAsync(CancellationToken.None);

    /// <summary>
    /// Runs a refresh that must be refused with <paramref name="kind"/> and checks the trusted
    /// state. With <paramref name="refusedRole"/> null nothing trusted may change at all. When the
    /// refusal happens at a later step (e.g. targets), earlier roles may legitimately advance in
    /// the same cycle (TUF persists each verified step), so then only the refused role's file must
    /// be untouched and no version may go down.
    /// </summary>
    public async Task<TufException> RefreshRefusedAsync(TufFailureKind kind, TufClient? client = null, string? refusedRole = null)
    {
        var before = Capture();
        var e = await Assert.ThrowsAnyAsync<TufException>(() => (client ?? NewClient()).RefreshAsync(CancellationToken.None));
        Assert.True(e.Kind == kind, $"expected {kind}, got {e.Kind}: {e.Message}");
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        if (refusedRole is null) AssertUnchanged(before);
        else AssertRoleUntouched(before, refusedRole);
        return e;
    }

    public void AssertRoleUntouched(TrustedSnapshot before, string role)
    {
        var after = Capture();
        var name = EdgeAgent.Trust.Storage.MetadataDirectory.FileNameFor(role);
        Assert.Equal(before.Files.ContainsKey(name), after.Files.ContainsKey(name));
        if (before.Files.TryGetValue(name, out var old)) Assert.Equal(old, after.Files[name]);
        foreach (var file in before.Files.Keys) Assert.Contains(file, after.Files.Keys);
        Assert.True(after.State.RootVersion >= before.State.RootVersion);
        Assert.True(after.State.TimestampVersion >= before.State.TimestampVersion);
        Assert.True(after.State.SnapshotVersion >= before.State.SnapshotVersion);
        foreach (var (r, v) in before.State.RoleVersions) Assert.True(after.State.RoleVersions[r] >= v);
    }

    /// <summary>The trusted files (exact bytes) and state versions.</summary>
    public TrustedSnapshot Capture()
    {
        var files = System.IO.Directory.EnumerateFiles(MetadataDir, "*.json")
            .ToDictionary(f => Path.GetFileName(f)!, f => File.ReadAllBytes(f));
        var state = TrustState.Load(MetadataDir);
        return new TrustedSnapshot(files, state);
    }

    public void AssertUnchanged(TrustedSnapshot before)
    {
        var after = Capture();
        Assert.Equal(before.Files.Keys.Order(), after.Files.Keys.Order());
        foreach (var (name, bytes) in before.Files) Assert.True(bytes.AsSpan().SequenceEqual(after.Files[name]), $"{name} changed");
        Assert.Equal(before.State.RootVersion, after.State.RootVersion);
        Assert.Equal(before.State.TimestampVersion, after.State.TimestampVersion);
        Assert.Equal(before.State.SnapshotVersion, after.State.SnapshotVersion);
        Assert.Equal(before.State.RoleVersions.OrderBy(x => x.Key), after.State.RoleVersions.OrderBy(x => x.Key));
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Fetcher.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

public sealed record TrustedSnapshot(Dictionary<string, byte[]> Files, TrustState State);
