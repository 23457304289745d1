using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Tests.Fixtures;

/// <summary>
/// The real hub (Kestrel on 127.0.0.1, a free port, a fresh SQLite file) with one token per role.
/// The ASP.NET test host package is not available here, so tests talk HTTP to a real listener.
/// </summary>
public sealed class RunningHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dir;

    private RunningHub(WebApplication app, string dir, Uri baseAddress)
    {
        _app = app;
        _dir = dir;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public IHubStore Store => _app.Services.GetRequiredService<IHubStore>();

    public TelemetryIngestor Ingestor => _app.Services.GetRequiredService<TelemetryIngestor>();

    public MqttHubConsumer Mqtt => _app.Services.GetRequiredService<MqttHubConsumer>();

    /// <summary>A service of the running app (e.g. a hosted service to wait on).</summary>
    public T Service<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public string AdminToken { get; private set; } = "";
    public string OperatorToken { get; private set; } = "";
    public string ReadOnlyToken { get; private set; } = "";

    public string StorePath => Path.Combine(_dir, "hub.db");

    public static async Task<RunningHub> StartAsync(string? mqttHost = null, int mqttPort = 1883, string? store = null, string clientId = "edgehub-test", long maxModelBytes = 64L * 1024 * 1024)
    {
        var dir = Directory.CreateTempSubdirectory("edgehub-test-").FullName;
        int port = FreePort();
        var options = new HubOptions
        {
            Store = store ?? "sqlite:" + Path.Combine(dir, "hub.db"),
            Urls = [$"http://127.0.0.1:{port}"],
            MqttHost = mqttHost,
            MqttPort = mqttPort,
            MqttClientId = clientId + "-" + Guid.NewGuid().ToString("N")[..8],
            RetentionDays = 0,
            MaxModelBytes = maxModelBytes,
        };
        var app = await HubHost.BuildAsync(options, logging: l => l.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        var hub = new RunningHub(app, dir, new Uri($"http://127.0.0.1:{port}/"));
        var time = TimeProvider.System;
        hub.AdminToken = (await ApiTokens.CreateAsync(hub.Store, "test-admin", HubRole.Admin, time, default)).Secret;
        hub.OperatorToken = (await ApiTokens.CreateAsync(hub.Store, "test-operator", HubRole.Operator, time, default)).Secret;
        hub.ReadOnlyToken = (await ApiTokens.CreateAsync(hub.Store, "test-reader", HubRole.ReadOnly, time, default)).Secret;
        return hub;
    }

    public HttpClient Client(string? token)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
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
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Waits for a condition the system reaches asynchronously (a liveness bound, not a timing assertion).</summary>
public static class Eventually
{
    public static async Task<T> ValueAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var v = await probe();
            if (done(v)) return v;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gave up waiting for {what}; last value: {v}");
            await Task.Delay(50);
        }
    }
}
