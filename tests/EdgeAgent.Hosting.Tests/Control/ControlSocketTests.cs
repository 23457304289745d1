using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hosting.Tests.Control;

public sealed record EchoArgs(string Text, int Times);
public sealed record EchoResult(string Joined);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EchoArgs))]
[JsonSerializable(typeof(EchoResult))]
public sealed partial class TestJsonContext : JsonSerializerContext;

public sealed class ControlSocketTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly ControlCommandRegistry _registry = new();
    private ControlServer _server = null!;
    private string SocketPath => _dir.Combine("run", "control.sock");

    public async Task InitializeAsync()
    {
        _registry.Register("echo", TestJsonContext.Default.EchoArgs, TestJsonContext.Default.EchoResult,
            (args, _) => ValueTask.FromResult(new EchoResult(string.Join(" ", Enumerable.Repeat(args!.Text, args.Times)))));
        _registry.Register("models.rollback", (_, _) =>
            throw new ControlCommandException("no_previous_model", "slot B is empty: there is no previous model", "install a model first"));
        _registry.Register("broken", (_, _) => throw new InvalidDataException("disk on fire"));
        _registry.Register("hang", async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return default; });
        _server = await StartServerAsync(_registry, SocketPath);
    }

    private static async Task<ControlServer> StartServerAsync(ControlCommandRegistry registry, string path, int maxConnections = 16, TimeSpan? requestTimeout = null)
    {
        var server = new ControlServer(registry, new ControlServerOptions
        {
            SocketPath = path, MaxRequestBytes = 4096, MaxConnections = maxConnections, RequestTimeout = requestTimeout ?? TimeSpan.FromMilliseconds(300),
        }, NullLogger<ControlServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        return server;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private static JsonElement Json(string s) => JsonDocument.Parse(s).RootElement.Clone();

    [Fact]
    public async Task A_typed_command_round_trips()
    {
        var client = new ControlClient(SocketPath);
        var result = await client.InvokeAsync("echo", TestJsonContext.Default.EchoResult, Json("""{ "text": "hi", "times": 3 }"""));
        Assert.Equal("hi hi hi", result.Joined);
    }

    [Fact]
    public void The_socket_file_is_mode_0660()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(SocketPath));
    }

    [Fact]
    public async Task Unknown_commands_get_a_structured_error_listing_the_known_ones()
    {
        var response = await new ControlClient(SocketPath).SendAsync("modles.list");
        Assert.False(response.Ok);
        Assert.Equal(ControlErrorCodes.UnknownCommand, response.Error!.Code);
        Assert.Contains("broken, echo, hang, models.rollback", response.Error.Hint);
    }

    [Fact]
    public async Task Handler_errors_come_back_structured_and_the_server_keeps_serving()
    {
        var client = new ControlClient(SocketPath);
        var ex = await Assert.ThrowsAsync<ControlClientException>(() => client.InvokeAsync("models.rollback", TestJsonContext.Default.EchoResult));
        Assert.Equal("no_previous_model", ex.Error!.Code);
        Assert.Equal("install a model first", ex.Error.Hint);

        var failed = await client.SendAsync("broken");
        Assert.Equal(ControlErrorCodes.Failed, failed.Error!.Code);
        Assert.Contains("disk on fire", failed.Error.Message);

        var bad = await client.SendAsync("echo", Json("""{ "text": 5 }"""));
        Assert.Equal(ControlErrorCodes.BadRequest, bad.Error!.Code);

        Assert.True((await client.SendAsync("echo", Json("""{ "text": "ok", "times": 1 }"""))).Ok);
    }

    [Fact]
    public async Task A_handler_that_runs_too_long_times_out()
    {
        var response = await new ControlClient(SocketPath).SendAsync("hang");
        Assert.Equal(ControlErrorCodes.Timeout, response.Error!.Code);
    }

    [Fact]
    public async Task An_oversize_request_is_refused_without_being_read()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 10_000_000);
        await socket.SendAsync(header);
        var response = await ReadResponseAsync(socket);
        Assert.Equal(ControlErrorCodes.TooLarge, response.Error!.Code);
        Assert.Contains("10000000 bytes exceeds the limit of 4096", response.Error.Message);
        Assert.True((await new ControlClient(SocketPath).SendAsync("echo", Json("""{ "text": "x", "times": 1 }"""))).Ok);
    }

    [Fact]
    public async Task A_client_that_stalls_inside_a_request_is_disconnected_and_frees_its_slot()
    {
        string path = _dir.Combine("run", "idle.sock");
        await using var server = new ControlServer(_registry, new ControlServerOptions
        {
            SocketPath = path, MaxConnections = 1, IdleTimeout = TimeSpan.FromMilliseconds(200),
        }, NullLogger<ControlServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        await socket.SendAsync(new byte[] { 0, 0 }); // half a header, then nothing
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await socket.ReceiveAsync(new byte[16], SocketFlags.None, wait.Token)); // server closed it
        Assert.True((await new ControlClient(path).SendAsync("echo", Json("""{ "text": "x", "times": 1 }"""))).Ok);
    }

    [Fact]
    public async Task Malformed_json_is_a_bad_request()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        byte[] body = "{ not json"u8.ToArray();
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame, 4);
        await socket.SendAsync(frame);
        Assert.Equal(ControlErrorCodes.BadRequest, (await ReadResponseAsync(socket)).Error!.Code);
    }

    [Fact]
    public async Task Several_clients_are_served_at_once()
    {
        const int clients = 8;
        var registry = new ControlCommandRegistry();
        int inside = 0;
        var allInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Every handler waits until all clients are inside: completes only if they run concurrently.
        registry.Register("gather", async (_, ct) =>
        {
            if (Interlocked.Increment(ref inside) == clients) allInside.SetResult();
            await allInside.Task.WaitAsync(ct);
            return Json("true");
        });
        string path = _dir.Combine("run", "gather.sock");
        await using var server = new ControlServer(registry, new ControlServerOptions { SocketPath = path, RequestTimeout = TimeSpan.FromSeconds(60) },
            NullLogger<ControlServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        var responses = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => new ControlClient(path).SendAsync("gather")));
        Assert.All(responses, r => Assert.True(r.Ok));
    }

    [Fact]
    public async Task Clients_beyond_the_connection_limit_are_told_the_agent_is_busy()
    {
        var registry = new ControlCommandRegistry();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        registry.Register("block", async (_, ct) => { entered.TrySetResult(); await release.Task.WaitAsync(ct); return Json("1"); });
        string path = _dir.Combine("run", "busy.sock");
        // Long request timeout: the first client must still hold its slot when the second arrives.
        await using var server = await StartServerAsync(registry, path, maxConnections: 1, requestTimeout: TimeSpan.FromMinutes(2));
        var first = new ControlClient(path).SendAsync("block");
        await entered.Task;
        var second = await new ControlClient(path).SendAsync("block");
        Assert.Equal(ControlErrorCodes.Busy, second.Error!.Code);
        release.SetResult();
        Assert.True((await first).Ok);
    }

    [Fact]
    public async Task A_client_without_an_agent_gets_an_actionable_message()
    {
        var ex = await Assert.ThrowsAsync<ControlClientException>(() => new ControlClient(_dir.Combine("nobody.sock")).SendAsync("status"));
        Assert.Contains("agent is not running", ex.Message);
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_but_a_live_agent_is_not_displaced()
    {
        string stale = _dir.Combine("run", "stale.sock");
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(stale)); // file stays after close, nobody listens
        await using (var server = await StartServerAsync(_registry, stale))
            Assert.True((await new ControlClient(stale).SendAsync("echo", Json("""{ "text": "x", "times": 1 }"""))).Ok);

        var second = new ControlServer(_registry, new ControlServerOptions { SocketPath = SocketPath }, NullLogger<ControlServer>.Instance);
        var ex = await Assert.ThrowsAsync<IOException>(() => second.StartAsync(CancellationToken.None));
        Assert.Contains("second agent", ex.Message);
    }

    private static async Task<ControlResponse> ReadResponseAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var header = new byte[4];
        await stream.ReadExactlyAsync(header);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await stream.ReadExactlyAsync(body);
        return JsonSerializer.Deserialize(body, ControlJsonContext.Default.ControlResponse)!;
    }
}
