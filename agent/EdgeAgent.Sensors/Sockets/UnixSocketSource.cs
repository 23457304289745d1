using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using EdgeAgent.Sensors.Native;
using EdgeAgent.Sensors.Pipeline;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Streams;

namespace EdgeAgent.Sensors.Sockets;

/// <summary>Configuration of a Unix-socket source.</summary>
public sealed record UnixSocketSettings
{
    /// <summary>Socket path, e.g. <c>/run/edgeagent/sensors.sock</c>.</summary>
    public required string Path { get; init; }
    /// <summary>Line format and channels; every client uses the same (a CSV header per connection).</summary>
    public required LineStreamSettings Stream { get; init; }
    /// <summary>Permissions of the socket file; only users who may write it can connect.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
    /// <summary>Concurrent clients; more are told so and disconnected (counted in <see cref="SensorStats.RejectedClients"/>).</summary>
    public int MaxClients { get; init; } = 8;
    /// <summary>Samples buffered between the clients and the consumer (drop-oldest beyond).</summary>
    public int QueueCapacity { get; init; } = 1024;
}

/// <summary>
/// Newline-delimited CSV/JSONL samples from local processes over a Unix stream socket.
/// </summary>
/// <remarks>
/// <para><b>Clients:</b> up to <see cref="UnixSocketSettings.MaxClients"/> at once, each with its own parser
/// (and CSV header). Their samples merge into one stream, stamped with the arrival time (timestamps in the
/// data are accepted but not used: clients' clocks and timelines differ).</para>
/// <para><b>Permissions:</b> the socket is bound under a temporary name, given
/// <see cref="UnixSocketSettings.Mode"/>, then renamed into place, so there is no moment in which it is
/// reachable with wider permissions. A stale socket file from a previous run is replaced; a live one
/// (another process answering) or a non-socket file at the path is an error.</para>
/// <para><b>Back-pressure:</b> client loops never wait for the consumer: a bounded drop-oldest queue sits
/// between them, so one slow consumer cannot stall producers (drops are counted).</para>
/// <para><b>Bad input</b> is counted per reason; a CSV header lacking a channel gets an <c>error:</c> line
/// back and the connection is closed (counted as <see cref="BadSampleReason.WrongArity"/>).</para>
/// </remarks>
public sealed class UnixSocketSource : ISensorSource
{
    private readonly UnixSocketSettings _settings;
    private readonly TimeProvider _time;
    private int _started;
    private int _clients;

    public UnixSocketSource(UnixSocketSettings settings, TimeProvider? time = null)
    {
        if (settings.Stream.Channels.Count == 0)
            throw new SensorSourceException($"socket {settings.Path}: no channels configured");
        _settings = settings;
        _time = time ?? TimeProvider.System;
        Name = $"socket:{settings.Path}";
    }

    public string Name { get; }
    public IReadOnlyList<string> Channels => _settings.Stream.Channels;
    public double? NominalRateHz => _settings.Stream.NominalRateHz;
    public SampleBackPressure PreferredBackPressure => SampleBackPressure.DropOldest;
    public SensorStats Stats { get; } = new();

    /// <summary>Clients connected right now.</summary>
    public int ConnectedClients => Volatile.Read(ref _clients);

    public async IAsyncEnumerable<SensorSample> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException($"{Name}: ReadAllAsync may be enumerated only once");
        int width = Channels.Count;
        var pool = new SampleBufferPool(width, _settings.QueueCapacity + _settings.MaxClients + 2);
        var queue = Channel.CreateBounded<QueuedSample>(
            new BoundedChannelOptions(_settings.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped =>
            {
                pool.Return(dropped.Values);
                Stats.CountDropped();
            });
        using var listener = Bind();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var acceptLoop = Task.Run(() => AcceptLoopAsync(listener, queue.Writer, pool, stop.Token), CancellationToken.None);
        var values = new float[width];
        try
        {
            while (await queue.Reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (queue.Reader.TryRead(out var item))
                {
                    item.Values.CopyTo(values, 0);
                    pool.Return(item.Values);
                    yield return new SensorSample(item.TimeNs, item.WallTime, values);
                }
            }
        }
        finally
        {
            stop.Cancel();
            listener.Dispose();
            try { await acceptLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
            TryDelete(_settings.Path);
        }
    }

    private Socket Bind()
    {
        string path = _settings.Path;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new SensorSourceException($"sensors.socket.path: directory {dir} does not exist");
        int? type = Libc.FileType(path);
        if (type is { } t)
        {
            if (t != Libc.S_IFSOCK)
                throw new SensorSourceException($"sensors.socket.path: {path} exists and is not a socket; refusing to replace it");
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new SensorSourceException($"sensors.socket.path: another process is already listening on {path}");
            }
            catch (SocketException)
            {
                File.Delete(path); // stale socket of a previous run
            }
        }
        string temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(temp));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, _settings.Mode);
            File.Move(temp, path);
            socket.Listen(_settings.MaxClients);
            return socket;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            TryDelete(temp);
            throw new SensorSourceException($"sensors.socket.path: cannot listen on {path}: {e.Message}", e);
        }
    }

    private async Task AcceptLoopAsync(Socket listener, ChannelWriter<QueuedSample> writer, SampleBufferPool pool, CancellationToken cancellationToken)
    {
        var clients = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                if (Interlocked.Increment(ref _clients) > _settings.MaxClients)
                {
                    Interlocked.Decrement(ref _clients);
                    Stats.CountRejectedClient();
                    await RefuseAsync(client, $"error: {Name} accepts at most {_settings.MaxClients} clients\n").ConfigureAwait(false);
                    continue;
                }
                clients.RemoveAll(t => t.IsCompleted);
                clients.Add(Task.Run(() => ClientLoopAsync(client, writer, pool, cancellationToken), CancellationToken.None));
            }
        }
        finally
        {
            await Task.WhenAll(clients).ConfigureAwait(false);
        }
    }

    private static async Task RefuseAsync(Socket client, string message)
    {
        using (client)
        {
            try { await client.SendAsync(Encoding.UTF8.GetBytes(message), SocketFlags.None).ConfigureAwait(false); }
            catch (SocketException) { }
        }
    }

    private async Task ClientLoopAsync(Socket client, ChannelWriter<QueuedSample> writer, SampleBufferPool pool, CancellationToken cancellationToken)
    {
        var s = _settings.Stream;
        var splitter = new LineSplitter(s.MaxLineBytes, Stats);
        var parser = new LineSampleParser(Name, s.Channels, s.Format, s.CsvHeader, s.TimestampField, Stats);
        var values = new float[s.Channels.Count];
        try
        {
            using (client)
            {
                while (true)
                {
                    int read;
                    try
                    {
                        read = await client.ReceiveAsync(splitter.GetReadMemory(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException)
                    {
                        break; // client reset the connection: same as closing it
                    }
                    if (read > 0) splitter.Advance(read);
                    try
                    {
                        while (splitter.TryReadLine(out int start, out int length) || (read == 0 && splitter.TryReadFinalLine(out start, out length)))
                            if (parser.Parse(splitter.Buffer.AsSpan(start, length), values, out _) == LineParseOutcome.Sample)
                                Enqueue(writer, pool, values);
                    }
                    catch (SensorSourceException e)
                    {
                        Stats.CountBad(BadSampleReason.WrongArity);
                        try { await client.SendAsync(Encoding.UTF8.GetBytes($"error: {e.Message}\n"), SocketFlags.None, cancellationToken).ConfigureAwait(false); }
                        catch (SocketException) { }
                        break;
                    }
                    if (read == 0) break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _clients);
        }
    }

    private void Enqueue(ChannelWriter<QueuedSample> writer, SampleBufferPool pool, float[] values)
    {
        var buffer = pool.Rent();
        values.CopyTo(buffer, 0);
        Stats.CountAccepted();
        if (!writer.TryWrite(new QueuedSample(SampleClock.NowNs(_time), _time.GetUtcNow(), buffer)))
            pool.Return(buffer); // only after completion
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
