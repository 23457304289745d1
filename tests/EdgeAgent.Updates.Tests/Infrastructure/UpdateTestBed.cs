using EdgeAgent.Bundles;
using EdgeAgent.Onnx;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Updates.Tests.Infrastructure;

/// <summary>
/// One device and one hub: a signed TUF repository (Trust's repository tooling, real ECDSA keys)
/// served over real HTTP on loopback with Range support, a device state directory with release
/// 1.0.0 (counter 1) installed and serving in a real ONNX Runtime engine, a health monitor and an
/// event log. Each test gets its own.
/// </summary>
public sealed class UpdateTestBed : IAsyncDisposable
{
    private UpdateTestBed(string dir)
    {
        Directory = dir;
        MetadataDir = Path.Combine(dir, "tuf");
        FamilyDir = Path.Combine(dir, "models", TestModels.Family);
        Repo = new TufRepository();
        Server = new RangeFileServer();
        Fetcher = new HttpTufFetcher();
    }

    public string Directory { get; }
    public string MetadataDir { get; }
    public string FamilyDir { get; }
    public TufRepository Repo { get; }
    public RangeFileServer Server { get; }
    public HttpTufFetcher Fetcher { get; }
    public InferenceEngine Engine { get; private set; } = null!;
    public ModelHealthMonitor Monitor { get; } = new();
    public UpdateEventLog Events { get; } = new();
    public byte[] InitialModel => TestModels.V1.OnnxBytes;

    public static async Task<UpdateTestBed> CreateAsync(byte[]? initialBundle = null)
    {
        var bed = new UpdateTestBed(System.IO.Directory.CreateTempSubdirectory("edgeagent-upd-").FullName);
        var slots = new ModelSlotStore(new UpdateStateStore(bed.FamilyDir));
        await slots.InstallInitialAsync(BundleReader.Read(new MemoryStream(initialBundle ?? TestModels.Bundle(TestModels.V1, "1.0.0", 1))), CancellationToken.None);
        bed.Repo.Publish();
        bed.Sync();
        await TufClient.InitializeAsync(bed.MetadataDir, bed.Repo.RootBytes, null, CancellationToken.None);
        bed.Engine = InferenceEngine.Load(UpdateManager.OpenActive(bed.FamilyDir)!.ModelPath);
        return bed;
    }

    /// <summary>Signs and publishes <paramref name="bundle"/> as <c>models/kws/&lt;version&gt;.bundle</c>; returns the target path.</summary>
    public string Publish(string version, byte[] bundle)
    {
        var path = BundleLayout.TargetPath(TestModels.Family, version);
        Repo.AddTarget(path, bundle);
        Repo.Publish();
        Sync();
        return path;
    }

    public void Sync() => Server.Load(Repo.Files);

    public UpdateManagerOptions Options(Func<UpdateManagerOptions, UpdateManagerOptions>? tweak = null)
    {
        var o = new UpdateManagerOptions
        {
            Family = TestModels.Family,
            Directory = FamilyDir,
            HardwareId = TestModels.HardwareId,
            LatencyRuns = 50,
            DownloadChunkBytes = 64 * 1024,
            DiskReserveBytes = 0,
            Health = new HealthPolicy { Window = TimeSpan.FromMilliseconds(300), MinCalls = 100, PollInterval = TimeSpan.FromMilliseconds(50), MaxWindow = TimeSpan.FromSeconds(30) },
        };
        return tweak is null ? o : tweak(o);
    }

    public TufClient NewTufClient() => new(new TufClientOptions
    {
        MetadataDirectory = MetadataDir,
        MetadataBaseUri = Server.MetadataUri,
        TargetBaseUri = Server.TargetsUri,
    }, Fetcher);

    public UpdateManager NewManager(Func<UpdateManagerOptions, UpdateManagerOptions>? tweak = null) =>
        new(Options(tweak), NewTufClient(), Fetcher, Server.TargetsUri, Engine, Monitor, Events);

    /// <summary>SHA-256 of the model the engine serves, read from the file it was loaded from.</summary>
    public string ServingModelSha() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Engine.Source)));

    public static string Sha(byte[] b) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(b));

    /// <summary>Runs the engine once on a fixed window and returns the probabilities.</summary>
    public float[] Predict(ulong seed = 1)
    {
        var output = new float[4];
        Engine.Run<float, float>(TestModels.Window(seed), output);
        return output;
    }

    public async ValueTask DisposeAsync()
    {
        Engine?.Dispose();
        Fetcher.Dispose();
        await Server.DisposeAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Live traffic: worker threads run the serving engine on in-distribution windows and report each
/// call to the health monitor, as the agent pipeline does. Counts failed calls (must stay 0
/// across swaps). Latency is measured with <see cref="LatencyClock"/> (a test may slow that clock).
/// </summary>
public sealed class LiveTraffic : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    private long _calls, _failures;

    // world: what the sensors see given the serving model's generation (a closed loop: the model's decisions
    // change the environment); null = the plain in-distribution windows.
    public LiveTraffic(InferenceEngine engine, ModelHealthMonitor monitor, int workers = 2, TimeProvider? latencyClock = null,
        Func<long, float[], float[]>? world = null)
    {
        LatencyClock = latencyClock ?? TimeProvider.System;
        // Dedicated threads (LongRunning), not pool threads: these loops never return, and parked on the thread pool
        // they starve it while the project's test classes run in parallel — a test's traffic then started only when
        // the pool injected threads (about one per second), i.e. possibly after the update it was meant to feed.
        _workers = Enumerable.Range(0, workers).Select(w => Task.Factory.StartNew(() =>
        {
            var output = new float[4];
            ulong seed = (ulong)w * 1_000_000;
            while (!_stop.IsCancellationRequested)
            {
                var input = TestModels.Window(seed++ % 512);
                if (world is not null) input = world(engine.Generation, input);
                var t0 = LatencyClock.GetTimestamp();
                try
                {
                    engine.Run<float, float>(input, output);
                    monitor.Record(input, output, LatencyClock.GetElapsedTime(t0));
                    Interlocked.Increment(ref _calls);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    monitor.RecordFailure();
                    Interlocked.Increment(ref _failures);
                    LastError = e;
                }
                Thread.Sleep(1); // a sensor rate, not a busy loop: leave CPU to validation on 2-core machines
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
    }

    public TimeProvider LatencyClock { get; }
    public long Calls => Interlocked.Read(ref _calls);
    public long Failures => Interlocked.Read(ref _failures);
    public Exception? LastError { get; private set; }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_workers);
        _stop.Dispose();
    }
}

/// <summary>A clock whose elapsed times are stretched by <see cref="Factor"/> (a device that became slower).</summary>
public sealed class StretchedClock : TimeProvider
{
    private long _factor = 1;

    public long Factor { get => Interlocked.Read(ref _factor); set => Interlocked.Exchange(ref _factor, value); }

    public override long GetTimestamp() => global::System.Diagnostics.Stopwatch.GetTimestamp() * Factor;
}
