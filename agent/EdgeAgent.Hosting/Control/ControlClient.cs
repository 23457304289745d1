using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgeAgent.Hosting.Control;

/// <summary>A control request the agent could not be asked, or answered with an error.</summary>
public sealed class ControlClientException(string message, ControlError? error = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The agent's structured error, when it answered.</summary>
    public ControlError? Error { get; } = error;
}

/// <summary>
/// What the <c>edgeagent</c> CLI uses to talk to the running agent over its control socket. One
/// connection per call: the CLI makes one or two calls per invocation, so pooling buys nothing.
/// </summary>
/// <remarks>Thread-safe (no shared state between calls).</remarks>
public sealed class ControlClient(string socketPath, TimeSpan? timeout = null)
{
    /// <summary>Largest response accepted (a <c>support</c> or <c>drift.show</c> answer can be big, but not unbounded).</summary>
    public int MaxResponseBytes { get; init; } = 16 * 1024 * 1024;

    public TimeSpan Timeout { get; } = timeout ?? TimeSpan.FromSeconds(35);

    /// <summary>Sends one request and returns the agent's response, error or not.</summary>
    /// <exception cref="ControlClientException">The agent is not reachable, the call timed out or the reply is malformed.</exception>
    public async Task<ControlResponse> SendAsync(string command, JsonElement? args = null, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(Timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
        {
            throw new ControlClientException($"the agent is not running (nothing listens on {socketPath}); check 'systemctl status edgeagent'", inner: e);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new ControlClientException($"permission denied on {socketPath}; run as root or as a member of group edgeagent", inner: e);
        }
        catch (SocketException e)
        {
            throw new ControlClientException($"cannot connect to the agent at {socketPath}: {e.Message}", inner: e);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var request = new ControlRequest(command, args, Guid.NewGuid().ToString("n")[..12]);
        try
        {
            await ControlFraming.WriteAsync(stream, JsonSerializer.SerializeToUtf8Bytes(request, ControlJsonContext.Default.ControlRequest), cts.Token).ConfigureAwait(false);
            long length = await ControlFraming.ReadLengthAsync(stream, cts.Token).ConfigureAwait(false);
            if (length < 0) throw new ControlClientException("the agent closed the connection without answering; see its log");
            if (length > MaxResponseBytes) throw new ControlClientException($"the agent's answer of {length} bytes exceeds the client limit of {MaxResponseBytes} bytes");
            var payload = await ControlFraming.ReadPayloadAsync(stream, (int)length, cts.Token).ConfigureAwait(false);
            return JsonSerializer.Deserialize(payload, ControlJsonContext.Default.ControlResponse)
                ?? throw new ControlClientException("the agent sent an empty answer");
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ControlClientException($"'{command}' got no answer from the agent within {Timeout.TotalSeconds:0.#} s", inner: e);
        }
        catch (JsonException e)
        {
            throw new ControlClientException($"the agent's answer is not valid JSON: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            throw new ControlClientException($"the connection to the agent broke: {e.Message}", inner: e);
        }
    }

    /// <summary>Sends a request and returns its typed result.</summary>
    /// <exception cref="ControlClientException">Not reachable, or the agent answered with an error (see <see cref="ControlClientException.Error"/>).</exception>
    public async Task<TResult> InvokeAsync<TResult>(string command, JsonTypeInfo<TResult> resultType, JsonElement? args = null, CancellationToken cancellationToken = default)
    {
        var response = await SendAsync(command, args, cancellationToken).ConfigureAwait(false);
        if (!response.Ok || response.Error is not null)
        {
            var error = response.Error ?? new ControlError(ControlErrorCodes.Failed, "the agent reported a failure without details");
            throw new ControlClientException(error.Hint is null ? error.Message : $"{error.Message} ({error.Hint})", error);
        }
        if (response.Result is not { } result) throw new ControlClientException($"the agent answered '{command}' without a result");
        return result.Deserialize(resultType) ?? throw new ControlClientException($"the agent answered '{command}' with null");
    }
}
