using System.Net;
using System.Text;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Trust;
using EdgeAgent.Updates.State;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>
/// register → sign → publish → assign → a device with the real update library installs it: the hub over
/// HTTP, the device's TUF client and UpdateManager, ONNX Runtime serving the result.
/// </summary>
public sealed class ReleaseEndToEndTests : IAsyncLifetime
{
    private ReleaseHub _hub = null!;

    public async Task InitializeAsync() => _hub = await ReleaseHub.StartAsync();

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task A_published_and_assigned_release_is_installed_by_the_device_and_served_by_onnx_runtime()
    {
        var v1 = await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        var v2 = await _hub.RegisterAsync(ReleaseModels.V2, "2.0.0", releaseCounter: 2);
        using var op = _hub.Client(_hub.OperatorToken);
        var published = await op.PostAsync("api/v1/releases", Json("""{"model":"vib-mlp","version":"2.0.0"}"""));
        Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        Assert.Contains("\"target\":\"models/vib-mlp/2.0.0.bundle\"", await published.Content.ReadAsStringAsync());

        await _hub.Assignments.PublishAsync([Assign("dev-a", "2.0.0", "canary")], default);

        await using var device = await TestDevice.CreateAsync(_hub, "dev-a", initialBundle: v1.Bundle);
        var assignment = await device.ReadAssignmentAsync();
        Assert.Equal("models/vib-mlp/2.0.0.bundle", assignment.Models[ReleaseModels.Family]);
        Assert.Equal("canary", assignment.Rollout);

        var manager = device.NewManager();
        using var traffic = new CancellationTokenSource();
        var live = Task.Run(async () =>
        {
            ulong seed = 0;
            while (!traffic.IsCancellationRequested)
            {
                device.Predict(ReleaseModels.V1.Reference.SampleInput(seed++ % 256));
                await Task.Delay(2);
            }
        });
        var outcome = await manager.ApplyAsync(assignment.Models[ReleaseModels.Family], CancellationToken.None);
        traffic.Cancel();
        await live;

        Assert.True(outcome.Phase == UpdatePhase.Committed, $"{outcome.Phase}: {outcome.Reason}");
        Assert.Equal("2.0.0", outcome.Version);
        Assert.Equal(v2.Record.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(device.Engine!.Source))));
        var input = ReleaseModels.V2.Reference.SampleInput(4242);
        var expected = ReleaseModels.V2.Reference.Run(input);
        var served = device.Predict(input);
        for (var i = 0; i < expected.Length; i++) Assert.InRange(served[i], expected[i] - ReleaseModels.V2.ProbabilityTolerance, expected[i] + ReleaseModels.V2.ProbabilityTolerance);
        Assert.Contains(device.Events.Events, e => e.To == "committed" && e.Version == "2.0.0");
    }

    [Fact]
    public async Task A_device_accepts_only_its_own_assignment()
    {
        await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        await _hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "test", default);
        await _hub.Assignments.PublishAsync([Assign("dev-a", "1.0.0"), Assign("dev-b", "1.0.0")], default);

        await using var deviceA = await TestDevice.CreateAsync(_hub, "dev-a");
        Assert.Equal("dev-a", (await deviceA.ReadAssignmentAsync()).DeviceId);
        // dev-b's file is signed and downloadable (TUF metadata is public), but dev-a's parser refuses it.
        var e = await Assert.ThrowsAsync<BundleException>(() => deviceA.ReadAssignmentAsync(whose: "dev-b"));
        Assert.Contains("assignment names device 'dev-b', not this device 'dev-a'", e.Message);
        // A device with no assignment finds no target.
        var none = await Assert.ThrowsAsync<TufException>(() => deviceA.ReadAssignmentAsync(whose: "dev-c"));
        Assert.Equal(TufFailureKind.TargetNotFound, none.Kind);
    }

    [Fact]
    public async Task The_assignments_key_cannot_sign_model_targets_and_a_tampered_assignment_is_refused()
    {
        await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1);
        await _hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "test", default);
        await _hub.Assignments.PublishAsync([Assign("dev-a", "1.0.0")], default);
        await using var device = await TestDevice.CreateAsync(_hub, "dev-a");
        var client = device.NewTufClient();
        await client.RefreshAsync(default);
        var target = await client.GetTargetAsync(DeviceAssignmentLayout.TargetPath("dev-a"), default);
        Assert.Equal(DeviceAssignmentLayout.RoleName, target.Role);
        Assert.Equal("targets", (await client.GetTargetAsync("models/vib-mlp/1.0.0.bundle", default)).Role);

        // Swap the stored bytes of dev-a's assignment (a compromised mirror or database): the pinned hash refuses it.
        var urlPath = $"assignments/{target.Hashes["sha256"]}.dev-a.json";
        var stored = await _hub.Store.GetTufTargetAsync(urlPath);
        Assert.NotNull(stored);
        var forged = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(stored!.Content).Replace("1.0.0", "6.6.6"));
        await ((EdgeAgent.Hub.Storage.SqlHubStore)_hub.Store).ExecuteRawForTestsAsync(
            $"UPDATE tuf_targets SET content = X'{Convert.ToHexString(forged)}' WHERE url_path = '{urlPath}'");
        var restarted = await TestDevice.CreateAsync(_hub, "dev-a");
        await using (restarted)
        {
            // A fresh hub cache would serve the forged bytes; ours may still hold the genuine ones, so restart it.
            await _hub.RestartAsync();
            var refused = await Assert.ThrowsAsync<TufException>(() => restarted.ReadAssignmentAsync());
            Assert.Equal(TufFailureKind.LengthOrHash, refused.Kind);
        }
    }

    internal static DeviceAssignment Assign(string device, string version, string? rollout = null) => new()
    {
        DeviceId = device,
        Models = new(StringComparer.Ordinal) { [ReleaseModels.Family] = BundleLayout.TargetPath(ReleaseModels.Family, version) },
        Rollout = rollout,
        IssuedAt = DateTimeOffset.UtcNow,
    };

    internal static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
