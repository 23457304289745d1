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
/// SIGKILL lands mid-download) and resumed with <c>Range: bytes=N-</c>. Thread-safe.
/// </summary>
public sealed class CorruptingMirror : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
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

    private byte[] Body(string path, byte[] file)
    {
        if (!path.StartsWith("targets/", StringComparison.Ordinal) || Corruption == MirrorCorruption.None) return file;
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
            if (!_files.TryGetValue(path, out var file))
            {
                response.StatusCode = 404;
                response.Close();
                return;
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
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long sent = 0;
            const int piece = 8 * 1024;
            while (start + sent < body.Length)
            {
                int n = (int)Math.Min(piece, body.Length - start - sent);
                await response.OutputStream.WriteAsync(body.AsMemory((int)(start + sent), n)).ConfigureAwait(false);
                sent += n;
                if (BytesPerSecond is { } bps && path.StartsWith("targets/", StringComparison.Ordinal))
                {
                    var due = TimeSpan.FromSeconds((double)sent / bps) - clock.Elapsed;
                    if (due > TimeSpan.Zero) await Task.Delay(due).ConfigureAwait(false);
                }
            }
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away (killed mid-download).
            try { response.Abort(); } catch (ObjectDisposedException) { }
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
    }
}
