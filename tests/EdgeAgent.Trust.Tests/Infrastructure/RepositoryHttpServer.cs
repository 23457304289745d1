using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeAgent.Trust.Tests.Infrastructure;

/// <summary>How the server answers one request (adversarial behaviours included).</summary>
public sealed record ServedResponse(int Status, byte[] Body)
{
    /// <summary>Delay between single bytes (drip feed). Null: send at once.</summary>
    public TimeSpan? DripDelay { get; init; }

    /// <summary>Send no Content-Length header (body ends with the connection).</summary>
    public bool OmitContentLength { get; init; }

    /// <summary>Announce the full length but hang up after this many bytes (a broken transfer).</summary>
    public int? TruncateAfter { get; init; }

    /// <summary>Extra header lines (e.g. Content-Range).</summary>
    public string? ExtraHeaders { get; init; }
}

/// <summary>
/// A minimal HTTP/1.1 file server on 127.0.0.1 over a real TCP socket, serving a mutable set of
/// files keyed by URL path (as the client requests them, still percent-encoded). Tests swap files
/// or install an <see cref="Override"/> to misbehave. One request per connection. Thread safe.
/// </summary>
public sealed class RepositoryHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public RepositoryHttpServer()
    {
        _listener.Start();
        BaseUri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _acceptLoop = AcceptLoopAsync();
    }

    public Uri BaseUri { get; }
    public Uri MetadataUri => new(BaseUri, "metadata/");
    public Uri TargetsUri => new(BaseUri, "targets/");

    /// <summary>Served files, keyed by path without the leading slash (e.g. <c>metadata/timestamp.json</c>).</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Paths requested so far, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Whether <c>Range: bytes=N-</c> requests get a 206 partial answer (default on).</summary>
    public bool SupportsRange { get; set; } = true;

    /// <summary>Consulted first; return null to serve <see cref="Files"/> normally.</summary>
    public Func<string, ServedResponse?>? Override { get; set; }

    public void Load(IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (k, v) in files) Files[k] = v;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var head = new StringBuilder();
            var buf = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(buf, _stop.Token) == 0) return;
                head.Append((char)buf[0]);
                if (head.Length > 16_384) return;
            }
            var lines = head.ToString().Split("\r\n");
            var path = lines[0].Split(' ')[1].TrimStart('/');
            var range = lines.FirstOrDefault(l => l.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase));
            Requests.Enqueue(range is null ? path : $"{path} [{range}]");
            var response = Override?.Invoke(path);
            if (response is null && Files.TryGetValue(path, out var body))
            {
                var from = range is null ? 0 : int.Parse(range["Range: bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
                response = range is null || !SupportsRange
                    ? new ServedResponse(200, body)
                    : new ServedResponse(206, body[from..]) { ExtraHeaders = $"Content-Range: bytes {from}-{body.Length - 1}/{body.Length}\r\n" };
            }
            response ??= new ServedResponse(404, "not found"u8.ToArray());
            var header = new StringBuilder($"HTTP/1.1 {response.Status} {(response.Status is 200 or 206 ? "OK" : "Error")}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n");
            if (!response.OmitContentLength) header.Append($"Content-Length: {response.Body.Length}\r\n");
            header.Append(response.ExtraHeaders);
            header.Append("\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(header.ToString()), _stop.Token);
            if (response.DripDelay is { } delay)
            {
                for (var i = 0; i < response.Body.Length; i++)
                {
                    await stream.WriteAsync(response.Body.AsMemory(i, 1), _stop.Token);
                    await stream.FlushAsync(_stop.Token);
                    await Task.Delay(delay, _stop.Token);
                }
            }
            else
            {
                await stream.WriteAsync(response.Body.AsMemory(0, response.TruncateAfter ?? response.Body.Length), _stop.Token);
            }
            await stream.FlushAsync(_stop.Token);
            client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up (e.g. it aborted a drip-fed transfer): expected in adversarial tests.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
