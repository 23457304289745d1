using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace EdgeAgent.Chaos.Faults;

/// <summary>How <see cref="TcpChaosProxy.Cut"/> breaks the link.</summary>
public enum LinkCut
{
    /// <summary>Every connection is reset (RST) and new ones are reset at once: a rebooted router, a dropped port.</summary>
    Reset,

    /// <summary>
    /// Nothing flows either way, connections stay open, new ones are accepted and stay silent: a dead
    /// link the peers only notice through their keepalive. Bytes are held, not dropped (TCP would
    /// retransmit them), so a connection that survives the cut continues intact.
    /// </summary>
    Blackhole,
}

/// <summary>
/// A TCP proxy on a loopback port in front of an upstream endpoint (the agent talks to the broker
/// through it) that can cut the link (<see cref="LinkCut"/>) and restore it. Thread-safe.
/// </summary>
public sealed class TcpChaosProxy : IAsyncDisposable
{
    private readonly IPEndPoint _upstream;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, (Socket Client, Socket? Upstream)> _connections = new();
    private readonly Task _acceptLoop;
    private volatile TaskCompletionSource _open = NewOpenGate();
    private LinkCut? _cut;
    private int _nextId;
    private long _connectionsAccepted, _connectionsReset, _bytes;

    public TcpChaosProxy(IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }
    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);
    public long ConnectionsReset => Interlocked.Read(ref _connectionsReset);
    public long BytesForwarded => Interlocked.Read(ref _bytes);

    private static TaskCompletionSource NewOpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    /// <summary>Cuts the link; stays cut until <see cref="Restore"/>.</summary>
    public void Cut(LinkCut how)
    {
        lock (_connections)
        {
            _cut = how;
            if (how == LinkCut.Blackhole)
            {
                if (_open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return;
            }
            foreach (var id in _connections.Keys) Reset(id);
        }
    }

    /// <summary>Lets bytes and connections through again.</summary>
    public void Restore()
    {
        lock (_connections)
        {
            _cut = null;
            _open.TrySetResult();
        }
    }

    private void Reset(int id)
    {
        if (!_connections.TryRemove(id, out var c)) return;
        Interlocked.Increment(ref _connectionsReset);
        foreach (var s in new[] { c.Client, c.Upstream })
        {
            if (s is null) continue;
            try
            {
                s.LingerState = new LingerOption(true, 0); // close → RST, not FIN
                s.Close();
            }
            catch (ObjectDisposedException) { }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            Interlocked.Increment(ref _connectionsAccepted);
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(Socket client)
    {
        int id = Interlocked.Increment(ref _nextId);
        lock (_connections)
        {
            if (_cut == LinkCut.Reset)
            {
                _connections[id] = (client, null);
                Reset(id);
                return;
            }
            _connections[id] = (client, null);
        }
        Socket? upstream = null;
        try
        {
            await _open.Task.WaitAsync(_stop.Token).ConfigureAwait(false); // a blackholed SYN-ACK: connected, silent
            upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await upstream.ConnectAsync(_upstream, _stop.Token).ConfigureAwait(false);
            lock (_connections)
            {
                if (!_connections.ContainsKey(id)) { upstream.Dispose(); return; } // reset meanwhile
                _connections[id] = (client, upstream);
            }
            client.NoDelay = true;
            await Task.WhenAny(PumpAsync(client, upstream), PumpAsync(upstream, client)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            if (_connections.TryRemove(id, out _))
            {
                client.Dispose();
                upstream?.Dispose();
            }
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await _open.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                // Blackholed while we were waiting for bytes: hold them until the link is back.
                await _open.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                Interlocked.Add(ref _bytes, n);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        foreach (var id in _connections.Keys) Reset(id);
        _stop.Dispose();
    }
}
