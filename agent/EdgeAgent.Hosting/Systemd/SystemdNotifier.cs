using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// Sends <c>sd_notify</c> state datagrams (<c>READY=1</c>, <c>STATUS=…</c>, <c>STOPPING=1</c>,
/// <c>WATCHDOG=1</c>) to the socket named by <c>$NOTIFY_SOCKET</c> (man sd_notify). A leading <c>@</c>
/// names a socket in the Linux abstract namespace; .NET's <see cref="UnixDomainSocketEndPoint"/> maps a
/// leading NUL to an abstract address whose length covers only the name, as systemd expects.
/// </summary>
/// <remarks>
/// Thread-safe: each notification is one <c>sendto</c> on a datagram socket. Without <c>$NOTIFY_SOCKET</c>
/// (not started by systemd, or <c>Type=simple</c>) every call is a no-op. A failed send is logged and
/// never thrown: losing a notification must not take the agent down (systemd then restarts us on the
/// start or watchdog timeout, which is the right outcome).
/// </remarks>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly ILogger _logger;
    private int _failuresLogged;

    /// <param name="notifySocket">The value of <c>$NOTIFY_SOCKET</c>; null or empty disables notifications.</param>
    /// <param name="logger">Where failed sends are reported.</param>
    public SystemdNotifier(string? notifySocket, ILogger<SystemdNotifier>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        if (string.IsNullOrEmpty(notifySocket)) return;
        if (notifySocket[0] != '/' && notifySocket[0] != '@')
        {
            // vsock: addresses are for VMs; an edge device never gets one.
            _logger.LogWarning("NOTIFY_SOCKET {NotifySocket} is neither a path nor an abstract socket; systemd notifications are disabled", notifySocket);
            return;
        }
        NotifySocket = notifySocket;
        _endPoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>Reads <c>$NOTIFY_SOCKET</c> from the process environment.</summary>
    public static SystemdNotifier FromEnvironment(ILogger<SystemdNotifier>? logger = null) =>
        new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), logger);

    /// <summary>True when a notify socket is configured.</summary>
    public bool IsEnabled => _socket is not null;

    public string? NotifySocket { get; }

    /// <summary>Sends one datagram of newline-separated <c>KEY=VALUE</c> assignments.</summary>
    /// <returns>True when the datagram was sent.</returns>
    public bool Notify(string state)
    {
        if (_socket is null || _endPoint is null) return false;
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endPoint);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Log the first few only: a broken socket would otherwise log on every watchdog ping.
            if (Interlocked.Increment(ref _failuresLogged) <= 3)
                _logger.LogWarning("systemd notification to {NotifySocket} failed: {Error}", NotifySocket, e.Message);
            return false;
        }
    }

    /// <summary>A <c>STATUS=</c> value must stay on one line: the datagram is newline-separated assignments.</summary>
    public static string Status(string text) => "STATUS=" + text.ReplaceLineEndings(" ");

    public void Dispose() => _socket?.Dispose();
}
