using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Onnx;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>
/// A device as the agent runs it, pointed at a running hub: a TUF metadata directory initialised with the
/// hub's root.json, the real <see cref="TufClient"/> over HTTP, the real <see cref="UpdateManager"/> with
/// A/B slots in a temp directory, and a real ONNX Runtime engine serving the active model.
/// </summary>
public sealed class TestDevice : IAsyncDisposable
{
    private readonly ReleaseHub _hub;

    private TestDevice(ReleaseHub hub, string id, string dir)
    {
        _hub = hub;
        Id = id;
        Directory = dir;
    }

    public string Id { get; }
    public string Directory { get; }
    public string MetadataDirectory => Path.Combine(Directory, "tuf");
    public string FamilyDirectory => Path.Combine(Directory, "models", ReleaseModels.Family);
    public HttpTufFetcher Fetcher { get; } = new();
    public InferenceEngine? Engine { get; private set; }
    public ModelHealthMonitor Monitor { get; } = new();
    public UpdateEventLog Events { get; } = new();

    /// <summary>A provisioned device: trusted root installed; <paramref name="initialBundle"/> (factory image) serving when given.</summary>
    public static async Task<TestDevice> CreateAsync(ReleaseHub hub, string id, byte[]? initialBundle = null, TimeProvider? time = null)
    {
        var device = new TestDevice(hub, id, System.IO.Directory.CreateTempSubdirectory("edgeagent-dev-").FullName);
        await TufClient.InitializeAsync(device.MetadataDirectory, hub.RootBytes, time, CancellationToken.None);
        if (initialBundle is not null)
        {
            await new ModelSlotStore(new UpdateStateStore(device.FamilyDirectory)).InstallInitialAsync(BundleReader.Read(new MemoryStream(initialBundle)), CancellationToken.None);
            device.Engine = InferenceEngine.Load(UpdateManager.OpenActive(device.FamilyDirectory)!.ModelPath);
        }
        return device;
    }

    public TufClient NewTufClient(TimeProvider? time = null) => new(new TufClientOptions
    {
        MetadataDirectory = MetadataDirectory,
        MetadataBaseUri = _hub.MetadataUri,
        TargetBaseUri = _hub.TargetsUri,
    }, Fetcher, time);

    /// <summary>Downloads <c>assignments/&lt;whose&gt;.json</c> through TUF and parses it as this device does.</summary>
    public async Task<DeviceAssignment> ReadAssignmentAsync(string? whose = null, TufClient? client = null)
    {
        client ??= NewTufClient();
        await client.RefreshAsync(CancellationToken.None);
        var target = await client.GetTargetAsync(DeviceAssignmentLayout.TargetPath(whose ?? Id), CancellationToken.None);
        var file = Path.Combine(Directory, "assignment.json");
        await client.DownloadTargetAsync(target, file, CancellationToken.None);
        return DeviceAssignmentLayout.Parse(File.ReadAllBytes(file), Id);
    }

    public UpdateManager NewManager() => new(new UpdateManagerOptions
    {
        Family = ReleaseModels.Family,
        Directory = FamilyDirectory,
        HardwareId = ReleaseModels.HardwareId,
        LatencyRuns = 20,
        DownloadChunkBytes = 64 * 1024,
        DiskReserveBytes = 0,
        Health = new HealthPolicy { Window = TimeSpan.FromMilliseconds(300), MinCalls = 20, PollInterval = TimeSpan.FromMilliseconds(50), MaxWindow = TimeSpan.FromSeconds(30) },
    }, NewTufClient(), Fetcher, _hub.TargetsUri, Engine!, Monitor, Events);

    /// <summary>Runs the serving engine on one window, as the pipeline would, and reports it to the health monitor.</summary>
    public float[] Predict(float[] window)
    {
        var output = new float[4];
        var t0 = TimeProvider.System.GetTimestamp();
        Engine!.Run<float, float>(window, output);
        Monitor.Record(window, output, TimeProvider.System.GetElapsedTime(t0));
        return output;
    }

    public async ValueTask DisposeAsync()
    {
        Engine?.Dispose();
        Fetcher.Dispose();
        await Task.Yield();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
