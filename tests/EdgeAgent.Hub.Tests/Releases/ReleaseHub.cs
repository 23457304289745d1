using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Models;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Api;
using EdgeAgent.OnnxFormat.Generators;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>
/// A real hub (Kestrel on 127.0.0.1) with signing keys from a real key ceremony (<c>keys init</c> into a
/// temp directory) and its own store, clock and options; tokens for each role. <see cref="RestartAsync"/>
/// stops it and starts a new instance over the same store and keys.
/// </summary>
public sealed class ReleaseHub : IAsyncDisposable
{
    private WebApplication _app;
    private readonly bool _ownsDirectory;

    private ReleaseHub(WebApplication app, HubOptions options, string dir, bool ownsDirectory)
    {
        _app = app;
        Options = options;
        Directory = dir;
        _ownsDirectory = ownsDirectory;
    }

    public HubOptions Options { get; }
    public string Directory { get; }
    public Uri BaseAddress => new(Options.Urls[0] + "/");
    public Uri MetadataUri => new(BaseAddress, "tuf/metadata/");
    public Uri TargetsUri => new(BaseAddress, "tuf/targets/");
    public string KeysDirectory => Path.Combine(Directory, "keys");
    public string OnlineDirectory => Path.Combine(KeysDirectory, TrustKeyLayout.OnlineDirectory);
    public byte[] RootBytes => File.ReadAllBytes(Path.Combine(Options.TrustDirectory!, "1.root.json"));
    public IHubStore Store => _app.Services.GetRequiredService<IHubStore>();
    public ReleaseSigner Signer => _app.Services.GetRequiredService<ReleaseSigner>();
    public IDeviceAssignmentPublisher Assignments => _app.Services.GetRequiredService<IDeviceAssignmentPublisher>();
    public T Service<T>() where T : notnull => _app.Services.GetRequiredService<T>();
    public string OperatorToken { get; private set; } = "";
    public string ReadOnlyToken { get; private set; } = "";

    /// <param name="store">Store spec; default a fresh SQLite file in the hub's directory.</param>
    /// <param name="time">The hub's clock (signing dates, re-sign decisions).</param>
    /// <param name="tweak">Changes to the options (lifetimes, MQTT).</param>
    /// <param name="keysFrom">Reuse the key directory of another hub (two instances over one store).</param>
    public static async Task<ReleaseHub> StartAsync(string? store = null, TimeProvider? time = null, Func<HubOptions, HubOptions>? tweak = null,
        string? keysFrom = null)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("edgehub-rel-").FullName;
        var keys = Path.Combine(dir, "keys");
        if (keysFrom is null) KeyCeremony.Init(keys, new KeyInitOptions(), time);
        var options = new HubOptions
        {
            Store = store ?? "sqlite:" + Path.Combine(dir, "hub.db"),
            Urls = [$"http://127.0.0.1:{FreePort()}"],
            MqttClientId = "edgehub-rel-" + Guid.NewGuid().ToString("N")[..8],
            RetentionDays = 0,
            TrustDirectory = Path.Combine(keysFrom ?? keys, TrustKeyLayout.OnlineDirectory),
        };
        if (tweak is not null) options = tweak(options);
        var hub = new ReleaseHub(await StartAppAsync(options, time), options, dir, ownsDirectory: true);
        await hub.CreateTokensAsync();
        return hub;
    }

    private static async Task<WebApplication> StartAppAsync(HubOptions options, TimeProvider? time)
    {
        var app = await HubHost.BuildAsync(options, time, l => l.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        return app;
    }

    private async Task CreateTokensAsync()
    {
        OperatorToken = (await ApiTokens.CreateAsync(Store, "rel-operator", HubRole.Operator, TimeProvider.System, default)).Secret;
        ReadOnlyToken = (await ApiTokens.CreateAsync(Store, "rel-reader", HubRole.ReadOnly, TimeProvider.System, default)).Secret;
    }

    /// <summary>Stops this instance and starts a new one (same options, store and keys).</summary>
    public async Task RestartAsync(TimeProvider? time = null)
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = await StartAppAsync(Options, time);
    }

    public HttpClient Client(string? token = null)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>Registers a generated INT8 MLP as <c>vib-mlp</c> <paramref name="version"/> (the hub's real registration checks).</summary>
    public async Task<RegisteredModel> RegisterAsync(GeneratedModel model, string version, long releaseCounter)
    {
        var manifest = AdminApiTests.ManifestFor(model, version);
        manifest.ReleaseCounter = releaseCounter;
        manifest.LatencyBudgetMs = 250; // the device's validation times p99 on a shared 2-core machine
        return await Service<ModelRegistration>().RegisterAsync(model.OnnxBytes, BundleManifestJson.Serialize(manifest), "test", default);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsDirectory) try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Wall clock shifted by a settable offset (timers still tick in real time): tests jump ahead in time.</summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));
}

/// <summary>Models used by release tests: two INT8 MLPs with the same contract and different weights.</summary>
public static class ReleaseModels
{
    private static readonly Lazy<GeneratedModel> MlpV1 = new(() => QdqMlp.Generate(new QdqMlpOptions { Seed = 42 }));
    private static readonly Lazy<GeneratedModel> MlpV2 = new(() => QdqMlp.Generate(new QdqMlpOptions { Seed = 7, ModelVersion = 2 }));

    public static GeneratedModel V1 => MlpV1.Value;
    public static GeneratedModel V2 => MlpV2.Value;
    public const string Family = "vib-mlp";
    public const string HardwareId = "linux-x64";
}
