using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeAgent.Hub.Dashboard.Tests.Browser;

/// <summary>A command the browser refused (Chrome DevTools Protocol error object).</summary>
public sealed class CdpException(string method, string message) : Exception($"CDP {method} failed: {message}");

/// <summary>One protocol event: method, params, and the flat-mode session it belongs to (null = browser).</summary>
public sealed record CdpEvent(string Method, JsonElement Params, string? SessionId);

/// <summary>
/// The Chrome DevTools Protocol over one WebSocket (the browser endpoint, flat session mode): commands
/// get increasing ids and complete when the matching response arrives; events go to <see cref="Event"/>.
/// Thread-safe for sending; events are raised on the receive loop (handlers must not block).
/// </summary>
public sealed class CdpConnection : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, (string Method, TaskCompletionSource<JsonElement> Reply)> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _receive;
    private int _nextId;

    public event Action<CdpEvent>? Event;

    public static async Task<CdpConnection> ConnectAsync(Uri endpoint, CancellationToken ct)
    {
        var c = new CdpConnection();
        c._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await c._socket.ConnectAsync(endpoint, ct);
        c._receive = Task.Run(c.ReceiveLoopAsync);
        return c;
    }

    /// <summary>Sends a command and returns its <c>result</c>; throws <see cref="CdpException"/> on a protocol error.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null, string? sessionId = null, CancellationToken ct = default)
    {
        int id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (method, reply);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        if (sessionId is not null) message["sessionId"] = sessionId;
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _sendLock.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        finally
        {
            _sendLock.Release();
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await using (timeout.Token.Register(() => reply.TrySetException(new TimeoutException($"CDP {method}: no reply within 60 s"))))
            return await reply.Task;
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var r = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                Dispatch(message.ToArray());
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // Browser gone or connection closed: pending commands fail below.
        }
        foreach (var (_, p) in _pending) p.Reply.TrySetException(new IOException($"CDP connection closed before {p.Method} was answered"));
    }

    private void Dispatch(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.TryGetProperty("id", out var idEl) && _pending.TryRemove(idEl.GetInt32(), out var p))
        {
            if (root.TryGetProperty("error", out var error))
                p.Reply.TrySetException(new CdpException(p.Method, error.GetProperty("message").GetString() + (error.TryGetProperty("data", out var d) ? $" ({d})" : "")));
            else
                p.Reply.TrySetResult(root.TryGetProperty("result", out var result) ? result.Clone() : default);
            return;
        }
        if (root.TryGetProperty("method", out var method))
            Event?.Invoke(new CdpEvent(method.GetString()!, root.TryGetProperty("params", out var ps) ? ps.Clone() : default,
                root.TryGetProperty("sessionId", out var sid) ? sid.GetString() : null));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var close = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, close.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // Closing a connection to a browser that is already gone.
        }
        if (_receive is not null) await _receive.ConfigureAwait(false);
        _socket.Dispose();
        _stop.Dispose();
    }
}
