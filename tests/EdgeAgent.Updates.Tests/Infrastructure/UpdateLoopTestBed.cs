using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Agent.Service;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Updates.Tests.Infrastructure;

/// <summary>
/// A device running the agent's <see cref="UpdateLoop"/> and a hub: a signed TUF repository with the
/// delegated <c>assignments</c> role (its own online key), served over real HTTP on 127.0.0.1; the device's
/// state directory (model store, trusted root file, TUF metadata), a real SQLite outbox, and — once a model is
/// installed — a <see cref="ServingHost"/> that serves it through the real inference pipeline from a recorded
/// CSV sensor stream, with the loop's per-inference observer. Each test gets its own.
/// </summary>
public sealed class UpdateLoopTestBed : IAsyncDisposable
{
    public const string DeviceId = "dev-1";

    private readonly CancellationTokenSource _stop = new();
    private Task? _loopTask;

    private UpdateLoopTestBed(string dir, RangeFileServer? server, int port)
    {
        Directory = dir;
        StateDirectory = Path.Combine(dir, "state");
        ModelStore = Path.Combine(StateDirectory, "models");
        TrustedRootPath = Path.Combine(dir, "root.json");
        Repo = new TufRepository();
        AssignmentsKey = SigningKey.CreateEcdsaP256();
        Repo.Delegate("targets", new DelegationSpec(DeviceAssignmentLayout.RoleName, [AssignmentsKey], 1, Paths: [DeviceAssignmentLayout.PathPattern]));
        Server = server;
        Port = port;
    }

    public string Directory { get; }
    public string StateDirectory { get; }
    public string ModelStore { get; }
    public string FamilyDirectory => Path.Combine(ModelStore, TestModels.Family);
    public string TrustedRootPath { get; }
    public TufRepository Repo { get; }
    public SigningKey AssignmentsKey { get; }

    /// <summary>The hub's HTTP server; null while the device is offline (<see cref="BringServerUpAsync"/>).</summary>
    public RangeFileServer? Server { get; private set; }

    public int Port { get; }
    public TelemetryOutbox Outbox { get; private set; } = null!;
    public UpdateLoop Loop { get; private set; } = null!;
    public ServingHost? Host { get; private set; }

    /// <param name="installed">Install release 1.0.0 (counter 1) as by provisioning; false = a device with no model.</param>
    /// <param name="online">Start the hub's server now; false = the device starts offline (nothing listens on the port).</param>
    /// <param name="tweak">Changes to the loop options of <see cref="Options"/>.</param>
    public static async Task<UpdateLoopTestBed> CreateAsync(bool installed = true, bool online = true,
        Func<UpdatesOptions, UpdatesOptions>? tweak = null)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("edgeagent-loop-").FullName;
        RangeFileServer? server = null;
        int port;
        if (online)
        {
            server = new RangeFileServer();
            port = server.BaseUri.Port;
        }
        else
        {
            // Reserve a port nobody listens on; the server comes up there later.
            var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }
        var bed = new UpdateLoopTestBed(dir, server, port);
        bed.Repo.Publish();
        bed.Sync();
        await File.WriteAllBytesAsync(bed.TrustedRootPath, bed.Repo.RootBytes);
        System.IO.Directory.CreateDirectory(bed.StateDirectory);
        if (installed)
        {
            var slots = new ModelSlotStore(new UpdateStateStore(bed.FamilyDirectory));
            await slots.InstallInitialAsync(BundleReader.Read(new MemoryStream(TestModels.Bundle(TestModels.V1, "1.0.0", 1))), CancellationToken.None);
        }
        bed.Outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = Path.Combine(bed.StateDirectory, "outbox.db"), Durability = OutboxDurability.Normal });
        var options = bed.Options();
        bed.Loop = new UpdateLoop(tweak is null ? options : tweak(options), DeviceId, bed.ModelStore, bed.Outbox);
        return bed;
    }

    public UpdatesOptions Options() => new()
    {
        MetadataUrl = new Uri($"http://127.0.0.1:{Port}/metadata/"),
        TargetBaseUrl = new Uri($"http://127.0.0.1:{Port}/targets/"),
        TrustedRootPath = TrustedRootPath,
        MetadataDirectory = Path.Combine(StateDirectory, "tuf"),
        HardwareId = TestModels.HardwareId,
        // Checks in these tests come from triggers; a poll would race them.
        PollInterval = TimeSpan.FromHours(1),
        RetryInitial = TimeSpan.FromMilliseconds(100),
        RetryMax = TimeSpan.FromMilliseconds(500),
        EngineWaitTimeout = TimeSpan.FromSeconds(20),
        LatencyRuns = 50,
        DiskReserveBytes = 0,
        Health = new HealthPolicy { Window = TimeSpan.FromMilliseconds(300), MinCalls = 60, PollInterval = TimeSpan.FromMilliseconds(50), MaxWindow = TimeSpan.FromSeconds(60) },
    };

    /// <summary>
    /// Serves the installed model (if any) like the service does, starts the loop and waits for its start-up
    /// check (so a test's own check is not answered by it).
    /// </summary>
    public async Task StartAsync()
    {
        if (UpdateManager.OpenActive(FamilyDirectory) is { } installed) Host = ServingHost.Start(installed, Loop, Outbox);
        _loopTask = Task.Run(() => Loop.RunAsync(_stop.Token));
        await WaitUntilAsync(() => Loop.Status.ChecksCompleted >= 1, TimeSpan.FromSeconds(60), () => $"no start-up check: {Loop.Status}");
    }

    /// <summary>What the service does when a first install lands: serve it.</summary>
    public async Task<InstalledModel> ServeFirstModelAsync(TimeSpan timeout)
    {
        var model = await Loop.WaitForFirstModelAsync(CancellationToken.None).WaitAsync(timeout);
        Host = ServingHost.Start(model, Loop, Outbox);
        return model;
    }

    public async Task BringServerUpAsync()
    {
        Server = new RangeFileServer(Port);
        Sync();
        await Task.CompletedTask;
    }

    public void Sync() => Server?.Load(Repo.Files);

    /// <summary>Signs and publishes a release as <c>models/kws/&lt;version&gt;.bundle</c>.</summary>
    public string Publish(string version, byte[] bundle)
    {
        var path = BundleLayout.TargetPath(TestModels.Family, version);
        Repo.AddTarget(path, bundle);
        Repo.Publish();
        Sync();
        return path;
    }

    /// <summary>Signs (assignments role) and publishes <c>assignments/&lt;device&gt;.json</c> naming <paramref name="target"/>.</summary>
    public void Assign(string target, string device = DeviceId, string? deviceIdInFile = null)
    {
        var bytes = DeviceAssignmentLayout.Serialize(new DeviceAssignment
        {
            DeviceId = deviceIdInFile ?? device,
            Models = new(StringComparer.Ordinal) { [TestModels.Family] = target },
            Rollout = "r-1",
            IssuedAt = DateTimeOffset.UtcNow,
        });
        Repo.AddTarget(DeviceAssignmentLayout.TargetPath(device), bytes, role: DeviceAssignmentLayout.RoleName);
        Repo.Publish();
        Sync();
    }

    public SlotPointer? Pointer => new UpdateStateStore(FamilyDirectory).ReadPointer();

    /// <summary>Update events stored in the real outbox database (stream <c>update</c>), in order.</summary>
    public List<JsonElement> StoredUpdateEvents()
    {
        Outbox.FlushAsync().GetAwaiter().GetResult();
        var list = new List<JsonElement>();
        using var connection = new SqliteConnection($"Data Source={Outbox.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM events WHERE stream = $s AND kind = 0 ORDER BY seq";
        command.Parameters.AddWithValue("$s", (int)TelemetryStream.Update);
        using var reader = command.ExecuteReader();
        while (reader.Read()) list.Add(JsonDocument.Parse((byte[])reader[0]).RootElement.Clone());
        return list;
    }

    /// <summary>Waits until <paramref name="done"/> holds (polling), failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> done, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what());
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loopTask is not null) await _loopTask;
        if (Host is not null) await Host.DisposeAsync();
        await Loop.DisposeAsync();
        await Outbox.DisposeAsync();
        if (Server is not null) await Server.DisposeAsync();
        AssignmentsKey.Dispose();
        _stop.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// What <c>AgentService</c> does with an installed model: a real engine, attached to the update loop, serving the
/// real <see cref="InferencePipeline"/> from a recorded sensor stream (a CSV file replayed at its recorded timing,
/// in-distribution windows of the test MLPs at 50 windows/s), with the loop's observer feeding model health.
/// </summary>
public sealed class ServingHost : IAsyncDisposable
{
    private static readonly Lazy<string> Recording = new(WriteRecording);
    private readonly CancellationTokenSource _stop = new();

    private ServingHost(InferenceEngine engine, InferencePipeline pipeline)
    {
        Engine = engine;
        Pipeline = pipeline;
        Running = pipeline.RunAsync(_stop.Token);
    }

    public InferenceEngine Engine { get; }
    public InferencePipeline Pipeline { get; }
    public Task Running { get; }

    public static ServingHost Start(InstalledModel model, UpdateLoop loop, TelemetryOutbox outbox)
    {
        var engine = InferenceEngine.Load(model.ModelPath);
        loop.AttachEngine(model.Manifest.Name, engine);
        var source = LineStreamSource.ForFile(Recording.Value, new LineStreamSettings
        {
            Channels = ["x"], TimestampField = "t", Replay = ReplayTiming.Recorded, NominalRateHz = RateHz,
        });
        var pipeline = new InferencePipeline(source, new WindowSpec { Length = 64, Hop = 64, Channels = ["x"] }, engine, outbox, new InferencePipelineOptions
        {
            Model = $"{model.Manifest.Name}@{model.Manifest.Version}",
            Labels = model.Manifest.Labels,
            InferenceObserver = loop.ObserverFor(model.Manifest.Name),
        });
        return new ServingHost(engine, pipeline);
    }

    private const int RateHz = 3200;

    /// <summary>60 s of samples: window i (64 samples) is the MLPs' reference input with seed i mod 512.</summary>
    private static string WriteRecording()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edgeagent-loop-recording-{Environment.ProcessId}.csv");
        var sb = new StringBuilder("t,x\n");
        long i = 0;
        for (var w = 0; w < 60 * RateHz / 64; w++)
            foreach (var v in TestModels.Window((ulong)(w % 512)))
                sb.Append(((double)i++ / RateHz).ToString("R", CultureInfo.InvariantCulture)).Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    /// <summary>SHA-256 of the model the engine serves now.</summary>
    public string ServingModelSha() => UpdateTestBed.Sha(File.ReadAllBytes(Engine.Source));

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await Running; } catch (OperationCanceledException) { }
        Engine.Dispose();
        _stop.Dispose();
    }
}
