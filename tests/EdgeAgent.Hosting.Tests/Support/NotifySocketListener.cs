using System.Net.Sockets;
using System.Text;

namespace EdgeAgent.Hosting.Tests.Support;

/// <summary>
/// Plays systemd's side of sd_notify: a bound Unix datagram socket, either a file in a temp directory
/// or a name in the abstract namespace. <see cref="Address"/> is what goes into NOTIFY_SOCKET.
/// </summary>
public sealed class NotifySocketListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _dir;

    public NotifySocketListener(bool abstractNamespace = false)
    {
        if (abstractNamespace)
        {
            string name = "edgeagent-test-" + Guid.NewGuid().ToString("n");
            _socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
            Address = "@" + name;
        }
        else
        {
            _dir = Directory.CreateTempSubdirectory("ea-notify-").FullName;
            Address = Path.Combine(_dir, "notify.sock");
            _socket.Bind(new UnixDomainSocketEndPoint(Address));
        }
    }

    public string Address { get; }

    /// <summary>The next datagram; fails the test if none arrives within <paramref name="wait"/> (generous: not a timing assertion).</summary>
    public async Task<string> ReceiveAsync(TimeSpan? wait = null)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(20));
        int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    /// <summary>Receives until a datagram containing <paramref name="assignment"/> arrives; returns everything seen.</summary>
    public async Task<List<string>> ReceiveUntilAsync(string assignment)
    {
        var seen = new List<string>();
        while (true)
        {
            var d = await ReceiveAsync();
            seen.Add(d);
            if (d.Split('\n').Contains(assignment)) return seen;
        }
    }

    public int Available => _socket.Available;

    public void Dispose()
    {
        _socket.Dispose();
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
    }
}
