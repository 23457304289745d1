using System.Net;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Metadata;
using Xunit;
using static EdgeAgent.Hub.Tests.Releases.ReleaseEndToEndTests;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>Publishing on both stores: versions, atomicity, serialisation across instances, restart.</summary>
public abstract class ReleasePublishingTests
{
    /// <summary>A store spec for a fresh database (sqlite:PATH or postgres:…).</summary>
    protected abstract Task<string> NewStoreAsync();

    [Fact]
    public async Task A_new_store_gets_a_complete_repository_that_a_client_accepts()
    {
        await using var hub = await ReleaseHub.StartAsync(await NewStoreAsync());
        await using var device = await TestDevice.CreateAsync(hub, "dev-1");
        var client = device.NewTufClient();
        await client.RefreshAsync(default);
        Assert.Equal(1, client.Trusted!.Timestamp!.Signed.Version);
        var targets = client.Trusted.Targets["targets"].Signed;
        var delegation = Assert.Single(targets.Delegations!.Roles);
        Assert.Equal(DeviceAssignmentLayout.RoleName, delegation.Name);
        Assert.Equal([DeviceAssignmentLayout.PathPattern], delegation.Paths);
        Assert.True(delegation.Terminating);
    }

    [Fact]
    public async Task A_release_reaching_an_empty_store_before_start_up_bootstraps_the_repository_and_is_kept()
    {
        await using var store = EdgeAgent.Hub.Storage.HubStores.Open(await NewStoreAsync());
        await store.MigrateAsync();
        var dir = Directory.CreateTempSubdirectory("edgehub-boot-").FullName;
        try
        {
            KeyCeremony.Init(dir, new KeyInitOptions());
            using var keys = OnlineTrustKeys.Load(Path.Combine(dir, "online"));
            var manifest = EdgeAgent.Hub.Tests.Api.AdminApiTests.ManifestFor(ReleaseModels.V1, "1.0.0");
            manifest.LatencyBudgetMs = 250;
            await new EdgeAgent.Hub.Models.ModelRegistration(store, TimeProvider.System, 64L << 20)
                .RegisterAsync(ReleaseModels.V1.OnnxBytes, EdgeAgent.Bundles.Manifest.BundleManifestJson.Serialize(manifest), "t", default);
            var signer = new ReleaseSigner(store, keys, new RoleLifetimes(TimeSpan.FromDays(1), TimeSpan.FromDays(7), TimeSpan.FromDays(90)),
                TimeProvider.System, hint: null, Microsoft.Extensions.Logging.Abstractions.NullLogger<ReleaseSigner>.Instance);

            var release = await signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default);
            Assert.Equal(2, release.TargetsVersion); // v1 is the bootstrap (with the assignments delegation), v2 adds the release
            Assert.NotNull(await store.GetTufMetadataAsync("1.root.json"));
            Assert.NotNull(await store.GetTufMetadataAsync("1.assignments.json"));
            Assert.Equal(1, (await store.GetTufMetadataAsync("timestamp.json"))!.Version);
            Assert.Null(await signer.InitializeAsync(default)); // nothing left to do
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_release_and_an_assignment_batch_each_publish_one_new_version()
    {
        await using var hub = await ReleaseHub.StartAsync(await NewStoreAsync());
        await hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 3);
        var release = await hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "tester", default);
        Assert.Equal(2, release.TargetsVersion);
        Assert.Equal(3, release.ReleaseCounter);
        Assert.Equal(2, (await hub.Store.GetTufMetadataAsync("timestamp.json"))!.Version);

        var batch = Enumerable.Range(0, 50).Select(i => Assign($"dev-{i}", "1.0.0", "r1")).ToList();
        await hub.Assignments.PublishAsync(batch, default);
        Assert.Equal(3, (await hub.Store.GetTufMetadataAsync("timestamp.json"))!.Version);
        Assert.NotNull(await hub.Store.GetTufMetadataAsync("2.assignments.json"));
        Assert.Null(await hub.Store.GetTufMetadataAsync("3.assignments.json"));
        Assert.Equal("r1", (await hub.Assignments.GetAsync("dev-7", default))!.Rollout);
        Assert.Null(await hub.Assignments.GetAsync("dev-99", default));

        // A later batch replaces only the devices it names.
        await hub.Assignments.PublishAsync([Assign("dev-7", "1.0.0", "r2")], default);
        Assert.Equal("r2", (await hub.Assignments.GetAsync("dev-7", default))!.Rollout);
        Assert.Equal("r1", (await hub.Assignments.GetAsync("dev-8", default))!.Rollout);
        await using var device = await TestDevice.CreateAsync(hub, "dev-8");
        Assert.Equal("r1", (await device.ReadAssignmentAsync()).Rollout);
    }

    [Fact]
    public async Task Refused_publications_change_nothing()
    {
        await using var hub = await ReleaseHub.StartAsync(await NewStoreAsync());
        await hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        var before = (await hub.Store.GetTufMetadataAsync("timestamp.json"))!;

        var unknown = await Assert.ThrowsAsync<ReleaseRejectedException>(() => hub.Signer.PublishReleaseAsync("vib-mlp", "9.9.9", "t", default));
        Assert.Equal(404, unknown.Status);
        Assert.Contains("is not registered; register it first", unknown.Message);

        var unreleased = await Assert.ThrowsAsync<ReleaseRejectedException>(() => hub.Assignments.PublishAsync([Assign("dev-1", "1.0.0")], default));
        Assert.Equal(409, unreleased.Status);
        Assert.Contains("names 'models/vib-mlp/1.0.0.bundle' (vib-mlp), which is not a published release; publish it first", unreleased.Message);

        var twice = await Assert.ThrowsAsync<ReleaseRejectedException>(() => hub.Assignments.PublishAsync([Assign("dev-1", "1.0.0"), Assign("dev-1", "1.0.0")], default));
        Assert.Contains("device 'dev-1' appears twice in one assignment batch", twice.Message);

        var badId = await Assert.ThrowsAsync<ReleaseRejectedException>(() => hub.Assignments.PublishAsync([Assign("../etc", "1.0.0")], default));
        Assert.Equal(400, badId.Status);

        await hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default);
        var again = await Assert.ThrowsAsync<ReleaseRejectedException>(() => hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default));
        Assert.Equal(409, again.Status);
        Assert.Contains("was already published", again.Message);

        Assert.Equal(before.Version + 1, (await hub.Store.GetTufMetadataAsync("timestamp.json"))!.Version);
        Assert.Single(await hub.Store.ListReleasesAsync());
        Assert.Null(await hub.Store.GetDeviceAssignmentAsync("dev-1"));
    }

    [Fact]
    public async Task Concurrent_publications_from_two_hub_instances_get_consecutive_versions()
    {
        var store = await NewStoreAsync();
        await using var first = await ReleaseHub.StartAsync(store);
        await using var second = await ReleaseHub.StartAsync(store, keysFrom: first.KeysDirectory);
        await first.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        await first.RegisterAsync(ReleaseModels.V2, "2.0.0", releaseCounter: 2);
        await first.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "a", default);
        var start = (await first.Store.GetTufMetadataAsync("timestamp.json"))!.Version;

        // Four publications at once, split over the two instances: each must build on the previous commit.
        var release = second.Signer.PublishReleaseAsync("vib-mlp", "2.0.0", "b", default);
        await Task.WhenAll(release,
            first.Assignments.PublishAsync([Assign("dev-1", "1.0.0")], default),
            second.Assignments.PublishAsync([Assign("dev-2", "1.0.0")], default),
            first.Assignments.PublishAsync([Assign("dev-3", "1.0.0")], default));
        Assert.Equal(3, (await release).TargetsVersion);
        var end = (await second.Store.GetTufMetadataAsync("timestamp.json"))!.Version;
        Assert.Equal(start + 4, end);
        for (var v = start + 1; v <= end; v++) Assert.NotNull(await first.Store.GetTufMetadataAsync($"{v}.timestamp.json"));
        var assignments = SignedMetadata<TargetsMetadata>.Parse((await first.Store.GetTufMetadataAsync("4.assignments.json"))!.Content,
            static (j, w) => new TargetsMetadata(j, w), "assignments").Signed;
        Assert.Equal(["assignments/dev-1.json", "assignments/dev-2.json", "assignments/dev-3.json"], assignments.Targets.Keys.Order());
        Assert.Null(await first.Store.GetTufMetadataAsync("5.assignments.json"));

        // Both instances serve the same bytes, and a client accepts them from either.
        using var a = first.Client();
        using var b = second.Client();
        Assert.Equal(await a.GetByteArrayAsync("tuf/metadata/timestamp.json"), await b.GetByteArrayAsync("tuf/metadata/timestamp.json"));
        await using var device = await TestDevice.CreateAsync(second, "dev-x");
        var client = device.NewTufClient();
        await client.RefreshAsync(default);
        Assert.Equal(end, client.Trusted!.Timestamp!.Signed.Version);
    }

    [Fact]
    public async Task A_restarted_hub_serves_the_same_metadata_and_continues_its_versions()
    {
        await using var hub = await ReleaseHub.StartAsync(await NewStoreAsync());
        await hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        await hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default);
        using (var http = hub.Client())
        {
            var before = await http.GetByteArrayAsync("tuf/metadata/timestamp.json");
            var targets = await http.GetByteArrayAsync("tuf/metadata/2.targets.json");
            await hub.RestartAsync();
            Assert.Equal(before, await http.GetByteArrayAsync("tuf/metadata/timestamp.json"));
            Assert.Equal(targets, await http.GetByteArrayAsync("tuf/metadata/2.targets.json"));
        }
        await hub.RegisterAsync(ReleaseModels.V2, "2.0.0", releaseCounter: 2);
        Assert.Equal(3, (await hub.Signer.PublishReleaseAsync("vib-mlp", "2.0.0", "t", default)).TargetsVersion);
    }

    [Fact]
    public async Task The_release_api_publishes_for_operators_lists_for_readers_and_explains_refusals()
    {
        await using var hub = await ReleaseHub.StartAsync(await NewStoreAsync());
        await hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        using var anonymous = hub.Client();
        using var reader = hub.Client(hub.ReadOnlyToken);
        using var op = hub.Client(hub.OperatorToken);
        var body = """{"model":"vib-mlp","version":"1.0.0"}""";
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("api/v1/releases", Json(body))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync("api/v1/releases", Json(body))).StatusCode);
        var bad = await op.PostAsync("api/v1/releases", Json("""{"model":"vib-mlp"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("send {\\\"model\\\":NAME,\\\"version\\\":V}", await bad.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await op.PostAsync("api/v1/releases", Json("""{"model":"nope","version":"1"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync("api/v1/releases", Json(body))).StatusCode);
        var dup = await op.PostAsync("api/v1/releases", Json(body));
        Assert.Equal(HttpStatusCode.Conflict, dup.StatusCode);
        var list = await reader.GetStringAsync("api/v1/releases");
        Assert.Contains("\"model\":\"vib-mlp\",\"version\":\"1.0.0\",\"target\":\"models/vib-mlp/1.0.0.bundle\",\"releaseCounter\":1", list);
        var audit = await hub.Store.ListAuditAsync(20);
        Assert.Contains(audit, a => a.Action == "POST /api/v1/releases" && a.Status == 201 && a.Target == "vib-mlp@1.0.0");
    }
}

public sealed class SqliteReleasePublishingTests : ReleasePublishingTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgehub-relstore-").FullName;

    protected override Task<string> NewStoreAsync() => Task.FromResult("sqlite:" + Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

public sealed class PostgresReleasePublishingTests(PostgresStoreFactory postgres) : ReleasePublishingTests, IClassFixture<PostgresStoreFactory>
{
    protected override async Task<string> NewStoreAsync() =>
        "postgres:" + await postgres.Server.CreateDatabaseAsync("rel" + Guid.NewGuid().ToString("N")[..12]);
}
