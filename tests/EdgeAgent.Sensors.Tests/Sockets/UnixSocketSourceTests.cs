using System.Net.Sockets;
using System.Text;
using EdgeAgent.Sensors.Sampling;
using EdgeAgent.Sensors.Sockets;
using EdgeAgent.Sensors.Streams;
using EdgeAgent.Sensors.Tests.Support;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Sockets;

public sealed class UnixSocketSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private UnixSocketSettings Settings(int maxClients = 4, LineFormat format = LineFormat.Csv) => new()
    {
        Path = _dir.File("s.sock"),
        Stream = new LineStreamSettings { Channels = ["ax", "ay"], Format = format, TimestampField = "t" },
        MaxClients = maxClients,
    };

    private static async Task<Socket> ConnectAsync(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return s;
    }

    private static Task SendAsync(Socket s, string text) => s.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None);

    private static async Task<string> ReceiveAllAsync(Socket s)
    {
        var buffer = new byte[4096];
        var sb = new StringBuilder();
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None)) > 0) sb.Append(Encoding.UTF8.GetString(buffer, 0, n));
        return sb.ToString();
    }

    [Fact]
    public async Task Several_clients_each_with_their_own_header_feed_one_stream()
    {
        var settings = Settings();
        await using var source = new UnixSocketSource(settings);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = Collect.SamplesAsync(source, max: 4, cts.Token);
        await Eventually.True(() => File.Exists(settings.Path), "socket bound");

        using var a = await ConnectAsync(settings.Path);
        using var b = await ConnectAsync(settings.Path);
        await SendAsync(a, "t,ax,ay\n0,1,2\n");
        await SendAsync(b, "ay,ax\n20,10\n"); // another column order, no timestamp
        await SendAsync(a, "0.1,3,4\nnot,a,number\n");
        await SendAsync(b, "40,30\n");
        var samples = await reading;

        var rows = samples.Select(s => (s.Values[0], s.Values[1])).OrderBy(r => r.Item1).ToArray();
        Assert.Equal(new[] { (1f, 2f), (3f, 4f), (10f, 20f), (30f, 40f) }, rows);
        await Eventually.True(() => source.Stats.Bad(BadSampleReason.Unparseable) == 1, "bad line counted");
    }

    [Fact]
    public async Task Socket_file_gets_restricted_permissions_and_is_removed_afterwards()
    {
        var settings = Settings() with { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        await using var source = new UnixSocketSource(settings);
        using var cts = new CancellationTokenSource();
        var reading = Collect.SamplesAsync(source, cancellationToken: cts.Token);
        await Eventually.True(() => File.Exists(settings.Path), "socket bound");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(settings.Path));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        Assert.False(File.Exists(settings.Path));
    }

    [Fact]
    public async Task Clients_beyond_the_limit_are_told_and_counted()
    {
        var settings = Settings(maxClients: 1);
        await using var source = new UnixSocketSource(settings);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = Collect.SamplesAsync(source, max: 1, cts.Token);
        await Eventually.True(() => File.Exists(settings.Path), "socket bound");
        using var first = await ConnectAsync(settings.Path);
        await Eventually.True(() => source.ConnectedClients == 1, "first client accepted");
        using var second = await ConnectAsync(settings.Path);
        string reply = await ReceiveAllAsync(second).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal($"error: socket:{settings.Path} accepts at most 1 clients\n", reply);
        Assert.Equal(1, source.Stats.RejectedClients);
        await SendAsync(first, "t,ax,ay\n0,5,6\n");
        var samples = await reading;
        Assert.Equal(new[] { 5f, 6f }, samples[0].Values);
    }

    [Fact]
    public async Task A_header_lacking_a_channel_gets_an_error_line_and_the_connection_is_closed()
    {
        var settings = Settings();
        await using var source = new UnixSocketSource(settings);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = Collect.SamplesAsync(source, max: 1, cts.Token);
        await Eventually.True(() => File.Exists(settings.Path), "socket bound");
        using var bad = await ConnectAsync(settings.Path);
        await SendAsync(bad, "t,ax\n0,1\n");
        string reply = await ReceiveAllAsync(bad).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.StartsWith($"error: socket:{settings.Path}: CSV header 't,ax' lacks channel(s) 'ay'", reply);
        using var good = await ConnectAsync(settings.Path);
        await SendAsync(good, "t,ax,ay\n{\"ax\": 1}\n1,7,8\n"); // a JSON line on a CSV socket: counted, not fatal
        var samples = await reading;
        Assert.Equal(new[] { 7f, 8f }, samples[0].Values);
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.WrongArity));
        Assert.Equal(1, source.Stats.Bad(BadSampleReason.Unparseable));
    }

    [Fact]
    public async Task A_consumer_that_falls_behind_loses_the_oldest_samples_and_the_drops_are_counted()
    {
        var settings = Settings() with { QueueCapacity = 4 };
        await using var source = new UnixSocketSource(settings);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var samples = source.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = samples.MoveNextAsync();
        await Eventually.True(() => File.Exists(settings.Path), "socket bound");
        using var client = await ConnectAsync(settings.Path);
        await SendAsync(client, "t,ax,ay\n0,0,0\n");
        Assert.True(await first);
        // The consumer now holds sample 0 and does not ask for more while 100 further samples arrive.
        await SendAsync(client, string.Concat(Enumerable.Range(1, 100).Select(i => $"{i},{i},{i}\n")));
        await Eventually.True(() => source.Stats.Accepted == 101, "all lines parsed");
        Assert.Equal(100 - 4, source.Stats.Dropped);
        var rest = new List<float>();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(await samples.MoveNextAsync());
            rest.Add(samples.Current.Values.Span[0]);
        }
        Assert.Equal(new[] { 97f, 98f, 99f, 100f }, rest);
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_but_a_regular_file_is_not()
    {
        var settings = Settings();
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            stale.Bind(new UnixDomainSocketEndPoint(settings.Path)); // bound, never listening: a leftover
        await using (var source = new UnixSocketSource(settings))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var reading = Collect.SamplesAsync(source, max: 1, cts.Token);
            await Eventually.True(() => source.ConnectedClients == 0 && CanConnect(settings.Path), "listening on the replaced socket");
            using var c = await ConnectAsync(settings.Path);
            await SendAsync(c, "t,ax,ay\n0,1,1\n");
            await reading;
        }

        string file = _dir.File("plain");
        File.WriteAllText(file, "keep me");
        await using var wrong = new UnixSocketSource(settings with { Path = file });
        var e = await Assert.ThrowsAsync<SensorSourceException>(() => Collect.SamplesAsync(wrong));
        Assert.Equal($"sensors.socket.path: {file} exists and is not a socket; refusing to replace it", e.Message);
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    private static bool CanConnect(string path)
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
