using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeAgent.Chaos.Faults;

/// <summary>How <see cref="CorruptingMirror"/> damages the bundles (<c>targets/…</c>) it serves.</summary>
public enum MirrorCorruption
{
    None,

    /// <summary>A few bytes flipped at seeded positions: same length, wrong hash (bit rot, a bad cache).</summary>
    FlipBytes,

    /// <summary>The second half zeroed: a truncated file padded back to length (an interrupted copy on the mirror).</summary>
    ZeroTail,

    /// <summary>Another release's bundle served under this path (a stale or mixed-up mirror).</summary>
    Substitute,

    /// <summary>The right bytes followed by extra ones (more than the signed length).</summary>
    Overlong,
}

/// <summary>
/// A real HTTP/1.1 mirror on loopback serving a TUF repository (metadata untouched) whose bundle
/// bodies can be corrupted (<see cref="Corruption"/>), throttled (<see cref="BytesPerSecond"/>, so a
/// SIGKILL lands mid-download) and resumed with <c>Range: bytes=N-</c>. With <see cref="Upstream"/> it is
/// a mirror in front of a live server (the hub's <c>/tuf/</c>): paths it does not hold are fetched there on
/// every request. Thread-safe.
/// </summary>
public sealed class CorruptingMirror : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private long _corruptedBodies, _requests;

    public CorruptingMirror(int seed)
    {
        Seed = seed;
        int port = FreePort();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUri.AbsoluteUri);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri BaseUri { get; }

    /// <summary>
    /// The server this mirror fronts, or null (serve only what <see cref="Load"/> gave). Uncorrupted, a request is relayed
    /// as it streams, Range header included, so a server killed mid-transfer cuts the client's download as it would
    /// through a real mirror or proxy; a corrupted one is fetched whole, then damaged and served. 502 while the server
    /// does not answer.
    /// </summary>
    public Uri? Upstream { get; set; }
    public int Seed { get; }
    public volatile MirrorCorruption Corruption;
    public byte[]? SubstituteBody { get; set; }
    public long? BytesPerSecond { get; set; }
    public long CorruptedBodies => Interlocked.Read(ref _corruptedBodies);
    public long Requests => Interlocked.Read(ref _requests);

    public void Load(IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (k, v) in files) _files[k] = v;
    }

    /// <summary>Bundles are what the mirror damages and throttles: everything under <c>targets/</c> it was loaded with, any <c>.bundle</c> it relays.</summary>
    private static bool IsBundle(string path) => path.StartsWith("targets/", StringComparison.Ordinal) || path.EndsWith(".bundle", StringComparison.Ordinal);

    private byte[] Body(string path, byte[] file)
    {
        if (!IsBundle(path) || Corruption == MirrorCorruption.None) return file;
        Interlocked.Increment(ref _corruptedBodies);
        var rng = new Random(HashCode.Combine(Seed, path.Length, (int)Corruption));
        var body = (byte[])file.Clone();
        switch (Corruption)
        {
            case MirrorCorruption.FlipBytes:
                for (int i = 0; i < 3; i++) body[rng.Next(body.Length)] ^= (byte)(1 << rng.Next(8));
                return body;
            case MirrorCorruption.ZeroTail:
                Array.Clear(body, body.Length / 2, body.Length - body.Length / 2);
                return body;
            case MirrorCorruption.Substitute:
                return SubstituteBody ?? throw new InvalidOperationException("Substitute needs SubstituteBody");
            case MirrorCorruption.Overlong:
                return [.. file, .. new byte[4096]];
            default:
                return file;
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => ServeAsync(context));
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        Interlocked.Increment(ref _requests);
        var response = context.Response;
        try
        {
            string path = context.Request.Url!.AbsolutePath.TrimStart('/');
            if (!_files.TryGetValue(path, out byte[]? file))
            {
                if (Upstream is not null && Corruption == MirrorCorruption.None)
                {
                    await RelayAsync(context, path).ConfigureAwait(false);
                    return;
                }
                file = Upstream is null ? null : await FetchAsync(path).ConfigureAwait(false);
                if (file is null)
                {
                    response.StatusCode = Upstream is null ? 404 : 502;
                    response.Close();
                    return;
                }
            }
            var body = Body(path, file);
            long start = 0;
            var range = context.Request.Headers["Range"];
            if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
                start = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
            if (start >= body.Length && body.Length > 0)
            {
                response.StatusCode = 416;
                response.Headers["Content-Range"] = $"bytes */{body.Length}";
                response.Close();
                return;
            }
            response.StatusCode = start > 0 ? 206 : 200;
            if (start > 0) response.Headers["Content-Range"] = $"bytes {start}-{body.Length - 1}/{body.Length}";
            response.Headers["Accept-Ranges"] = "bytes";
            response.ContentType = "application/octet-stream";
            response.ContentLength64 = body.Length - start;
            await CopyAsync(new MemoryStream(body, (int)start, (int)(body.Length - start), writable: false), response, path).ConfigureAwait(false);
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException or HttpRequestException)
        {
            // The client went away (killed mid-download).
            try { response.Abort(); } catch (ObjectDisposedException) { }
        }
    }

    /// <summary>Writes <paramref name="source"/> to the client in 8 KiB pieces, at <see cref="BytesPerSecond"/> for bundles.</summary>
    private async Task CopyAsync(Stream source, HttpListenerResponse response, string path)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var buffer = new byte[8 * 1024];
        long sent = 0;
        int n;
        while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            await response.OutputStream.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            sent += n;
            if (BytesPerSecond is { } bps && IsBundle(path))
            {
                var due = TimeSpan.FromSeconds((double)sent / bps) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Relays one request to <see cref="Upstream"/> as it streams (status, Content-Range, length, body); 502 when it does not answer.</summary>
    private async Task RelayAsync(HttpListenerContext context, string path)
    {
        var response = context.Response;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Upstream!, path));
        if (context.Request.Headers["Range"] is { } range) request.Headers.TryAddWithoutValidation("Range", range);
        HttpResponseMessage upstream;
        try
        {
            upstream = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            response.StatusCode = 502;
            response.Close();
            return;
        }
        using (upstream)
        {
            response.StatusCode = (int)upstream.StatusCode;
            if (upstream.Content.Headers.ContentRange is { } contentRange) response.Headers["Content-Range"] = contentRange.ToString();
            if (upstream.Content.Headers.ContentLength is { } length) response.ContentLength64 = length;
            response.Headers["Accept-Ranges"] = "bytes";
            response.ContentType = upstream.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
            await using var body = await upstream.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await CopyAsync(body, response, path).ConfigureAwait(false); // the server dying mid-body throws: the client's transfer is cut
            response.Close();
        }
    }

    /// <summary>The whole file from <see cref="Upstream"/>, or null when it does not answer with 200.</summary>
    private async Task<byte[]?> FetchAsync(string path)
    {
        try
        {
            using var r = await _http.GetAsync(new Uri(Upstream!, path)).ConfigureAwait(false);
            return r.IsSuccessStatusCode ? await r.Content.ReadAsByteArrayAsync().ConfigureAwait(false) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop.ConfigureAwait(false);
        _http.Dispose();
    }
}
