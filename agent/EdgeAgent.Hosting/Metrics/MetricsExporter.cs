using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> in the Prometheus text format 0.0.4 from a minimal HTTP/1.1 server on a
/// <see cref="TcpListener"/> (Kestrel is not worth its size and AOT cost for one read-only endpoint).
/// Binds to loopback by default: there is no authentication. Other paths get 404, other methods 405.
/// </summary>
/// <remarks>
/// One request per connection (<c>Connection: close</c>), a bounded request head (8 KiB) and read
/// timeout, and at most four scrapes at once, so a misbehaving client cannot pin the agent's resources.
/// </remarks>
public sealed class MetricsExporter(MetricsRegistry registry, IPAddress address, int port, ILogger<MetricsExporter> logger)
    : IHostedService, IAsyncDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";
    private const int MaxHeadBytes = 8 * 1024;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _slots = new(4, 4);
    private TcpListener? _listener;
    private Task? _loop;

    /// <summary>The bound port (useful when 0 was configured).</summary>
    public int Port => ((IPEndPoint?)_listener?.LocalEndpoint)?.Port ?? port;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var listener = new TcpListener(address, port);
        try { listener.Start(); }
        catch (SocketException e)
        {
            throw new IOException($"cannot serve metrics on {address}:{port}: {e.Message}; change metrics.port or set metrics.enabled to false", e);
        }
        _listener = listener;
        _loop = AcceptLoopAsync(listener);
        logger.LogInformation("Prometheus metrics on http://{Address}:{Port}/metrics", address, Port);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { break; }
            catch (SocketException) { continue; }
            if (!_slots.Wait(0)) { client.Dispose(); continue; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            using var _ = client;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            cts.CancelAfter(ReadTimeout);
            var stream = client.GetStream();
            string? requestLine = await ReadHeadAsync(stream, cts.Token).ConfigureAwait(false);
            var (status, headers, body) = Respond(requestLine);
            var head = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status}\r\n")
                .Append(headers)
                .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cts.Token).ConfigureAwait(false);
            bool isHead = requestLine?.StartsWith("HEAD ", StringComparison.Ordinal) == true;
            if (!isHead) await stream.WriteAsync(body, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Scraper went away or timed out; nothing to report.
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Reads the request head up to the blank line; returns its first line, or null when malformed/oversize.</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[MaxHeadBytes];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
            if (n == 0) break;
            filled += n;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                int eol = buffer.AsSpan(0, end + 2).IndexOf("\r\n"u8);
                return Encoding.ASCII.GetString(buffer, 0, eol);
            }
        }
        return null;
    }

    internal (string Status, string Headers, byte[] Body) Respond(string? requestLine)
    {
        var parts = requestLine?.Split(' ');
        if (parts is not { Length: 3 } || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return ("400 Bad Request", "Content-Type: text/plain; charset=utf-8\r\n", "bad request\n"u8.ToArray());
        if (parts[0] is not ("GET" or "HEAD"))
            return ("405 Method Not Allowed", "Allow: GET, HEAD\r\nContent-Type: text/plain; charset=utf-8\r\n", "only GET /metrics\n"u8.ToArray());
        string path = parts[1].Split('?')[0];
        if (path != "/metrics")
            return ("404 Not Found", "Content-Type: text/plain; charset=utf-8\r\n", "not found; metrics are at /metrics\n"u8.ToArray());
        return ("200 OK", $"Content-Type: {ContentType}\r\n", Encoding.UTF8.GetBytes(registry.Render()));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        _listener = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
