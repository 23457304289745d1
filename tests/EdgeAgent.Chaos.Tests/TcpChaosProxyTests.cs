using System.Net;
using System.Net.Sockets;
using EdgeAgent.Chaos.Faults;
using Xunit;

namespace EdgeAgent.Chaos.Tests;

/// <summary>
/// The link fault tool against a real loopback echo server: bytes pass, a blackhole holds them (none
/// arrive, the connection stays open) and delivers them intact on restore, a reset kills the
/// connection and refuses new ones until restored.
/// </summary>
public sealed class TcpChaosProxyTests : IAsyncLifetime
{
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private readonly Task _echoLoop;
    private readonly TcpChaosProxy _proxy;

    public TcpChaosProxyTests()
    {
        _echo.Start();
        _echoLoop = Task.Run(async () =>
        {
            while (true)
            {
                Socket s;
                try { s = await _echo.AcceptSocketAsync(); }
                catch (Exception) { return; }
                _ = Task.Run(async () =>
                {
                    var buffer = new byte[4096];
                    try
                    {
                        int n;
                        while ((n = await s.ReceiveAsync(buffer)) > 0) await s.SendAsync(buffer.AsMemory(0, n));
                    }
                    catch (SocketException) { }
                    finally { s.Dispose(); }
                });
            }
        });
        _proxy = new TcpChaosProxy((IPEndPoint)_echo.LocalEndpoint);
    }

    private async Task<Socket> ConnectAsync()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, _proxy.Port);
        return s;
    }

    private static async Task<byte[]> ReadAsync(Socket s, int count, TimeSpan timeout)
    {
        var buffer = new byte[count];
        int got = 0;
        using var cts = new CancellationTokenSource(timeout);
        while (got < count)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException("closed");
            got += n;
        }
        return buffer;
    }

    [Fact]
    public async Task A_blackhole_holds_bytes_and_delivers_them_intact_once_restored()
    {
        using var s = await ConnectAsync();
        await s.SendAsync("ping"u8.ToArray());
        Assert.Equal("ping"u8.ToArray(), await ReadAsync(s, 4, TimeSpan.FromSeconds(10)));

        _proxy.Cut(LinkCut.Blackhole);
        await s.SendAsync("held"u8.ToArray());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReadAsync(s, 4, TimeSpan.FromMilliseconds(700)));
        _proxy.Restore();
        Assert.Equal("held"u8.ToArray(), await ReadAsync(s, 4, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_reset_kills_open_connections_and_refuses_new_ones_until_restored()
    {
        using var s = await ConnectAsync();
        await s.SendAsync("ping"u8.ToArray());
        await ReadAsync(s, 4, TimeSpan.FromSeconds(10));

        _proxy.Cut(LinkCut.Reset);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await s.SendAsync("more"u8.ToArray());
            await ReadAsync(s, 4, TimeSpan.FromSeconds(10));
        });
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            // Accepted by the kernel, then reset by the proxy: the connect or the first read fails.
            using var during = await ConnectAsync();
            await ReadAsync(during, 1, TimeSpan.FromSeconds(10));
        });
        Assert.True(_proxy.ConnectionsReset >= 2);

        _proxy.Restore();
        using var after = await ConnectAsync();
        await after.SendAsync("back"u8.ToArray());
        Assert.Equal("back"u8.ToArray(), await ReadAsync(after, 4, TimeSpan.FromSeconds(10)));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _echo.Stop();
        await _echoLoop;
    }
}
