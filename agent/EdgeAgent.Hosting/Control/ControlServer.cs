using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Control;

/// <summary>Limits of the control socket server.</summary>
public sealed record ControlServerOptions
{
    public required string SocketPath { get; init; }
    /// <summary>Largest request accepted; bigger ones get <see cref="ControlErrorCodes.TooLarge"/> and the connection is closed.</summary>
    public int MaxRequestBytes { get; init; } = 64 * 1024;
    /// <summary>Clients served at once; more get <see cref="ControlErrorCodes.Busy"/>.</summary>
    public int MaxConnections { get; init; } = 16;
    /// <summary>How long a handler may run before the client gets <see cref="ControlErrorCodes.Timeout"/>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A connection that sends nothing (or only part of a request) for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Mode of the socket file: owner (the service user) and group (operators in group edgeagent).</summary>
    public UnixFileMode SocketMode { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
}

/// <summary>
/// The local control API used by the <c>edgeagent</c> CLI: a Unix stream socket (mode 0660, owned by
/// the service user) carrying length-prefixed JSON requests (<see cref="ControlFraming"/>), each dispatched
/// to the handler registered under its command name in <see cref="ControlCommandRegistry"/>.
/// </summary>
/// <remarks>
/// Several clients are served concurrently (up to <see cref="ControlServerOptions.MaxConnections"/>), each
/// connection may send several requests in sequence. Every failure — unknown command, malformed JSON,
/// oversize request, handler error or timeout — comes back as a structured <see cref="ControlError"/>;
/// nothing a client sends can stop the server. Stopping closes the listener and cancels running handlers.
/// </remarks>
public sealed class ControlServer(ControlCommandRegistry registry, ControlServerOptions options, ILogger<ControlServer> logger)
    : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _slots = new(options.MaxConnections, options.MaxConnections);
    private readonly List<Task> _connections = [];
    private Socket? _listener;
    private Task? _acceptLoop;

    public ControlServerOptions Options => options;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        string path = options.SocketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await RemoveStaleSocketAsync(path, cancellationToken).ConfigureAwait(false);

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // The runtime directory is 0750 (RuntimeDirectoryMode in the unit), so nobody else can reach
            // the socket in the moment between bind (umask mode) and this chmod.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, options.SocketMode);
            listener.Listen(options.MaxConnections);
        }
        catch (Exception e) when (e is SocketException or UnauthorizedAccessException or IOException)
        {
            listener.Dispose();
            throw new IOException($"cannot listen on control socket {path}: {e.Message}; check that the directory exists and belongs to the service user", e);
        }
        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
        logger.LogInformation("Control socket listening on {SocketPath}", path);
    }

    private static async Task RemoveStaleSocketAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) return;
        if (Directory.Exists(path)) throw new IOException($"control socket path {path} is a directory");
        // A socket file left by a crashed agent refuses connections; a live agent accepts them.
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
            throw new IOException($"another process is already serving the control socket {path}; is a second agent running?");
        }
        catch (SocketException)
        {
            File.Delete(path);
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                logger.LogWarning("Control socket accept failed: {Error}", e.Message);
                continue;
            }
            var task = ServeAsync(client);
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(task);
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        await Task.Yield(); // leave the accept loop at once
        using var _ = client;
        await using var stream = new NetworkStream(client, ownsSocket: false);
        if (!_slots.Wait(0))
        {
            // Read the request first (bounded, briefly): closing on a client that is still writing resets the
            // connection, and the client would see a broken pipe instead of the Busy answer (a flaky test showed it).
            try
            {
                using var brief = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                brief.CancelAfter(TimeSpan.FromSeconds(1));
                long length = await ControlFraming.ReadLengthAsync(stream, brief.Token).ConfigureAwait(false);
                if (length > 0 && length <= options.MaxRequestBytes)
                    await ControlFraming.ReadPayloadAsync(stream, (int)length, brief.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
            {
                // Nothing readable: answer anyway.
            }
            await TryReplyAsync(stream, Error(null, ControlErrorCodes.Busy, $"the agent is already serving {options.MaxConnections} control clients; retry shortly")).ConfigureAwait(false);
            return;
        }
        try
        {
            while (!_stopping.IsCancellationRequested)
                if (!await ServeOneAsync(stream).ConfigureAwait(false)) break;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Client went away, idled out, or we are stopping: nothing to answer.
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Reads, dispatches and answers one request. False ends the connection.</summary>
    private async Task<bool> ServeOneAsync(NetworkStream stream)
    {
        byte[] payload;
        using (var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
        {
            idle.CancelAfter(options.IdleTimeout);
            long length = await ControlFraming.ReadLengthAsync(stream, idle.Token).ConfigureAwait(false);
            if (length < 0) return false;
            if (length > options.MaxRequestBytes)
            {
                // Do not read it: the point of the limit is not to buffer it. The stream cannot be resynchronised, so close.
                await TryReplyAsync(stream, Error(null, ControlErrorCodes.TooLarge,
                    $"request of {length} bytes exceeds the limit of {options.MaxRequestBytes} bytes")).ConfigureAwait(false);
                return false;
            }
            payload = await ControlFraming.ReadPayloadAsync(stream, (int)length, idle.Token).ConfigureAwait(false);
        }

        var response = await DispatchAsync(payload).ConfigureAwait(false);
        await ControlFraming.WriteAsync(stream, JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse), _stopping.Token).ConfigureAwait(false);
        return true;
    }

    internal async Task<ControlResponse> DispatchAsync(byte[] payload)
    {
        ControlRequest? request;
        try { request = JsonSerializer.Deserialize(payload, ControlJsonContext.Default.ControlRequest); }
        catch (JsonException e)
        {
            return Error(null, ControlErrorCodes.BadRequest, $"request is not valid JSON: {e.Message}");
        }
        if (request is null || string.IsNullOrWhiteSpace(request.Command))
            return Error(request?.Id, ControlErrorCodes.BadRequest, "request has no \"command\"");
        if (!registry.TryGet(request.Command, out var handler))
            return Error(request.Id, ControlErrorCodes.UnknownCommand, $"unknown command '{request.Command}'",
                "known commands: " + string.Join(", ", registry.Commands));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            var result = await handler(request.Args, timeout.Token).ConfigureAwait(false);
            return new ControlResponse(true, result, null, request.Id);
        }
        catch (ControlCommandException e)
        {
            return new ControlResponse(false, null, e.Error, request.Id);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return _stopping.IsCancellationRequested
                ? Error(request.Id, ControlErrorCodes.ShuttingDown, "the agent is shutting down")
                : Error(request.Id, ControlErrorCodes.Timeout, $"'{request.Command}' did not finish within {options.RequestTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e)
        {
            logger.LogError(e, "Control command {Command} failed", request.Command);
            return Error(request.Id, ControlErrorCodes.Failed, $"'{request.Command}' failed: {e.Message}", "see the agent log for details");
        }
    }

    private static ControlResponse Error(string? id, string code, string message, string? hint = null) =>
        new(false, null, new ControlError(code, message, hint), id);

    private static async Task TryReplyAsync(Stream stream, ControlResponse response)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { await ControlFraming.WriteAsync(stream, JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse), cts.Token).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException) { }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        Task[] pending;
        lock (_connections) pending = [.. _connections];
        if (_acceptLoop is not null) pending = [.. pending, _acceptLoop];
        try { await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        try { File.Delete(options.SocketPath); } catch (IOException) { }
        _listener = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _slots.Dispose();
    }
}
