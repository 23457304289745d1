using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// Publishes the device's retained status on <c>edgeagent/v1/{id}/status</c> (DESIGN.md §5): on every
/// (re)connect — the broker may have replaced it with the Last Will <c>{"online":false}</c> — and whenever the
/// reported state changes (model, health, update state). The hub reads <c>online</c>, <c>agentVersion</c>,
/// <c>activeModel</c> (<c>name@version</c>), <c>updateState</c> and <c>health</c>; <c>model</c>, <c>bootId</c>
/// and <c>ts</c> are kept by the hub in the raw JSON.
/// </summary>
/// <remarks>
/// <para>Thread-safe: <see cref="Notify"/> may be called from any thread (including the MQTT client's event
/// thread, which must not block); one background loop does the publishing. A change while offline is not queued:
/// the next connect publishes the state as it is then.</para>
/// <para>The payload is built by <c>fields</c> (writes every field but <c>ts</c>, added here, into an open JSON object) each time; a publish is skipped when the payload is the
/// same as the last one that reached the broker on the current connection (apart from <c>ts</c>).</para>
/// </remarks>
internal sealed class StatusPublisher(MqttClient client, string deviceId, Action<Utf8JsonWriter> fields, ILogger logger) : IAsyncDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private string? _lastPublished;
    private Task _loop = Task.CompletedTask;
    private long _published;

    public string Topic { get; } = $"edgeagent/v1/{deviceId}/status";

    /// <summary>Status messages that reached the broker (for tests and <c>status</c>).</summary>
    public long Published => Interlocked.Read(ref _published);

    public void Start()
    {
        client.ConnectionStateChanged += OnConnectionStateChanged;
        _loop = Task.Run(() => LoopAsync(_stop.Token));
        Notify();
    }

    /// <summary>Something the status shows may have changed: publish if it did (non-blocking).</summary>
    public void Notify()
    {
        try { _signal.Release(); }
        catch (SemaphoreFullException) { }   // a publish is already pending; it will read the newest state
        catch (ObjectDisposedException) { }
    }

    private void OnConnectionStateChanged(object? sender, MqttConnectionStateChangedEventArgs e)
    {
        if (e.State != MqttConnectionState.Connected) return;
        Volatile.Write(ref _lastPublished, null);   // a new connection: the retained message may be the Last Will now
        Notify();
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await _signal.WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            if (client.State != MqttConnectionState.Connected) continue;
            string fingerprint = Render(fields, null);
            if (fingerprint == Volatile.Read(ref _lastPublished)) continue;
            try
            {
                await client.PublishAsync(new MqttApplicationMessage
                {
                    Topic = Topic,
                    Payload = System.Text.Encoding.UTF8.GetBytes(Render(fields, DateTimeOffset.UtcNow)),
                    Retain = true,
                    QoS = MqttQualityOfService.AtLeastOnce,
                    ContentType = "application/json",
                    PayloadIsUtf8 = true,
                }, ct).ConfigureAwait(false);
                Volatile.Write(ref _lastPublished, fingerprint);
                Interlocked.Increment(ref _published);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Lost the link mid-publish: the reconnect publishes again.
                logger.LogDebug("Status publish failed ({Reason}); it is sent again on reconnect", e.Message);
            }
        }
    }

    private static string Render(Action<Utf8JsonWriter> body, DateTimeOffset? ts)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            body(w);
            if (ts is { } t) w.WriteString("ts", t);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    public async ValueTask DisposeAsync()
    {
        client.ConnectionStateChanged -= OnConnectionStateChanged;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _signal.Dispose();
    }
}
