using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeAgent.Updates.Tests.Infrastructure;

/// <summary>A request as the server saw it.</summary>
public sealed record ServedRequest(string Path, long? RangeStart, int Status, long BodyBytesSent);

/// <summary>
/// HTTP/1.1 static file server on 127.0.0.1 over a real socket with <c>Range: bytes=N-</c> support
/// (206 + Content-Range), for update tests. Faults are injected per request through
/// <see cref="CutAfterBytes"/> (close the connection after that many body bytes, once) and
/// <see cref="BytesPerSecond"/> (slow link). One request per connection. Thread safe.
/// (The Trust tests' server serves whole files only; resuming needs ranges.)
/// </summary>
public sealed class RangeFileServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    /// <param name="port">0 picks a free port; a given port lets a test bring "the server" up where a device already looks.</param>
    public RangeFileServer(int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        BaseUri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _acceptLoop = AcceptLoopAsync();
    }

    public Uri BaseUri { get; }
    public Uri MetadataUri => new(BaseUri, "metadata/");
    public Uri TargetsUri => new(BaseUri, "targets/");

    /// <summary>Files by URL path without the leading slash, as requested (still percent-encoded).</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<ServedRequest> Requests { get; } = new();

    /// <summary>Cut the next body under <c>targets/</c> after this many bytes (then reset to null).</summary>
    public long? CutAfterBytes { get; set; }

    /// <summary>Throttle bodies under <c>targets/</c> (null: full speed).</summary>
    public long? BytesPerSecond { get; set; }

    /// <summary>Answer ranged requests with a full 200 (a server without Range support).</summary>
    public bool IgnoreRange { get; set; }

    public void Load(IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (k, v) in files) Files[k] = v;
    }

    public long TargetBytesSent => Requests.Where(r => r.Path.StartsWith("targets/", StringComparison.Ordinal)).Sum(r => r.BodyBytesSent);

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
        string path = "";
        long? rangeStart = null;
        int status = 0;
        long sent = 0;
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
            path = lines[0].Split(' ')[1].TrimStart('/');
            foreach (var line in lines.Skip(1))
                if (line.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase) && line.EndsWith('-'))
                    rangeStart = long.Parse(line["Range: bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            var isTarget = path.StartsWith("targets/", StringComparison.Ordinal);
            byte[] body;
            var header = new StringBuilder();
            if (!Files.TryGetValue(path, out var file))
            {
                status = 404;
                body = "not found"u8.ToArray();
                header.Append("HTTP/1.1 404 Not Found\r\n");
            }
            else if (rangeStart is { } start && !IgnoreRange)
            {
                if (start >= file.Length)
                {
                    status = 416;
                    body = [];
                    header.Append($"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{file.Length}\r\n");
                }
                else
                {
                    status = 206;
                    body = file.AsSpan((int)start).ToArray();
                    header.Append($"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{file.Length - 1}/{file.Length}\r\n");
                }
            }
            else
            {
                status = 200;
                body = file;
                header.Append("HTTP/1.1 200 OK\r\n");
            }
            header.Append($"Connection: close\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nContent-Length: {body.Length}\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(header.ToString()), _stop.Token);
            long limit = body.Length;
            if (isTarget && CutAfterBytes is { } cut)
            {
                limit = Math.Min(cut, body.Length);
                CutAfterBytes = null;
            }
            const int piece = 16 * 1024;
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            while (sent < limit)
            {
                var n = (int)Math.Min(piece, limit - sent);
                await stream.WriteAsync(body.AsMemory((int)sent, n), _stop.Token);
                sent += n;
                if (isTarget && BytesPerSecond is { } bps)
                {
                    var due = TimeSpan.FromSeconds((double)sent / bps) - System.Diagnostics.Stopwatch.GetElapsedTime(t0);
                    if (due > TimeSpan.Zero) await Task.Delay(due, _stop.Token);
                }
            }
            await stream.FlushAsync(_stop.Token);
            if (limit < body.Length) client.Client.LingerState = new LingerOption(true, 0); // abrupt reset, like a dropped link
            else client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up (killed process, aborted transfer).
        }
        finally
        {
            Requests.Enqueue(new ServedRequest(path, rangeStart, status, sent));
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
