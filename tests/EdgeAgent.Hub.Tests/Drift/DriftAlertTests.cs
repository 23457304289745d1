using System.Net;
using System.Text.Json;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace EdgeAgent.Hub.Tests.Drift;

/// <summary>Fleet drift alerts POSTed to a real HTTP listener from a real SQLite store.</summary>
public sealed class DriftAlertTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "edgehub-alerts-" + Guid.NewGuid().ToString("N")[..8]);
    private SqliteHubStore _store = null!;
    private HttpListener? _listener;
    private readonly List<JsonElement> _received = [];
    private int _status = 200;
    private Uri _url = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _store = new SqliteHubStore(Path.Combine(_dir, "hub.db"));
        await _store.MigrateAsync();
        int port = 0;
        for (int attempt = 0; attempt < 20 && _listener is null; attempt++)
        {
            port = Random.Shared.Next(20000, 60000);
            var l = new HttpListener();
            l.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { l.Start(); _listener = l; } catch (HttpListenerException) { l.Close(); }
        }
        _url = new Uri($"http://127.0.0.1:{port}/alerts");
        _ = Task.Run(async () =>
        {
            while (_listener!.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener!.GetContextAsync(); } catch (Exception) { return; }
                using (var doc = await JsonDocument.ParseAsync(ctx.Request.InputStream))
                    lock (_received) _received.Add(doc.RootElement.Clone());
                ctx.Response.StatusCode = _status;
                ctx.Response.Close();
            }
        });
    }

    public async Task DisposeAsync()
    {
        _listener?.Close();
        await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private async Task RegisterAsync()
    {
        var reference = new ReferenceProfileBuilder(["ax"], random: new Random(1));
        var rng = new Random(2);
        for (int i = 0; i < 5000; i++) reference.AddRow([(float)Gaussian(rng)]);
        await _store.RegisterModelAsync(new ModelRecord("activity", "1.0.0", 1, "00", "c", "{}"u8.ToArray(),
            ReferenceProfileJson.Serialize(reference.Build()), "test", DateTimeOffset.UtcNow), [1], null);
    }

    private async Task StoreWindowAsync(string device, long seq, double shift)
    {
        var sketch = new KllFloatsSketch(random: new Random(3));
        var rng = new Random((int)seq);
        for (int i = 0; i < 2000; i++) sketch.Update((float)(Gaussian(rng) + shift));
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        await _store.StoreDriftWindowsAsync([new DriftWindowRecord(device, "boot-1", seq, "activity", "1.0.0", "ax", today, sketch.ToByteArray())]);
    }

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    private DriftAlerts Alerts() => new(new HubOptions { Store = "sqlite:x", DriftWebhook = _url }, _store, new FleetDriftReport(_store),
        TimeProvider.System, NullLogger<DriftAlerts>.Instance);

    private List<JsonElement> Received() { lock (_received) return [.. _received]; }

    [Fact]
    public async Task A_feature_crossing_the_psi_threshold_fires_once_and_resolves_once_when_it_falls_back()
    {
        await RegisterAsync();
        await StoreWindowAsync("dev-1", 1, shift: 0);
        using var alerts = Alerts();

        await alerts.EvaluateAsync(CancellationToken.None);
        Assert.Empty(Received()); // matches the reference: nothing to say

        await StoreWindowAsync("dev-2", 2, shift: 3);
        await alerts.EvaluateAsync(CancellationToken.None);
        await alerts.EvaluateAsync(CancellationToken.None); // still over: no second alert
        var fired = Assert.Single(Received());
        Assert.Equal("firing", fired.GetProperty("state").GetString());
        Assert.Equal(("activity", "1.0.0", "ax"), (fired.GetProperty("model").GetString(), fired.GetProperty("version").GetString(), fired.GetProperty("feature").GetString()));
        Assert.True(fired.GetProperty("psi").GetDouble() > 0.25);
        Assert.Equal(2, fired.GetProperty("devices").GetInt32());

        for (int i = 0; i < 30; i++) await StoreWindowAsync("dev-3", 10 + i, shift: 0); // the fleet dilutes the shifted device
        await alerts.EvaluateAsync(CancellationToken.None);
        Assert.Equal(["firing", "resolved"], Received().Select(a => a.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task An_alert_the_webhook_refused_is_sent_again_at_the_next_evaluation()
    {
        await RegisterAsync();
        await StoreWindowAsync("dev-1", 1, shift: 3);
        using var alerts = Alerts();
        _status = 503;
        await alerts.EvaluateAsync(CancellationToken.None);
        _status = 200;
        await alerts.EvaluateAsync(CancellationToken.None);
        Assert.Equal(["firing", "firing"], Received().Select(a => a.GetProperty("state").GetString()));
        Assert.Equal(1, alerts.Delivered);
    }
}
