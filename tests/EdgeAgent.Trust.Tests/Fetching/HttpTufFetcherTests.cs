using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Fetching;

public sealed class HttpTufFetcherTests
{
    private static FetchLimits Limits(long max = 1000, double deadlineMs = 60_000, long minRate = 0, double graceMs = 60_000) =>
        new(max, TimeSpan.FromMilliseconds(deadlineMs), minRate, TimeSpan.FromMilliseconds(graceMs));

    [Fact]
    public async Task Fetches_the_body_into_the_destination()
    {
        await using var server = new RepositoryHttpServer();
        server.Files["f"] = "hello"u8.ToArray();
        using var fetcher = new HttpTufFetcher();
        using var ms = new MemoryStream();
        Assert.Equal(5, await fetcher.FetchAsync(new Uri(server.BaseUri, "f"), ms, Limits(), 0, CancellationToken.None));
        Assert.Equal("hello"u8.ToArray(), ms.ToArray());
    }

    [Fact]
    public async Task Not_found_is_reported_as_such()
    {
        await using var server = new RepositoryHttpServer();
        using var fetcher = new HttpTufFetcher();
        var e = await Assert.ThrowsAsync<TufDownloadException>(() => fetcher.FetchAsync(new Uri(server.BaseUri, "missing"), Stream.Null, Limits(), 0, CancellationToken.None));
        Assert.True(e.IsNotFound);
        Assert.Equal(404, e.StatusCode);
    }

    [Fact]
    public async Task Announced_oversize_body_is_refused_before_reading_it()
    {
        await using var server = new RepositoryHttpServer();
        server.Files["big"] = new byte[5000];
        using var fetcher = new HttpTufFetcher();
        using var ms = new MemoryStream();
        var e = await Assert.ThrowsAsync<TufDownloadException>(() => fetcher.FetchAsync(new Uri(server.BaseUri, "big"), ms, Limits(max: 1000), 0, CancellationToken.None));
        Assert.Equal(TufFailureKind.TooLarge, e.Kind);
        Assert.Equal(0, ms.Length);
    }

    [Fact]
    public async Task Deadline_ends_a_transfer_that_keeps_a_trickle_going()
    {
        await using var server = new RepositoryHttpServer();
        server.Override = _ => new ServedResponse(200, new byte[200]) { DripDelay = TimeSpan.FromMilliseconds(50) };
        using var fetcher = new HttpTufFetcher { CheckInterval = TimeSpan.FromMilliseconds(50) };
        var e = await Assert.ThrowsAsync<TufDownloadException>(() => fetcher.FetchAsync(new Uri(server.BaseUri, "slow"), Stream.Null, Limits(deadlineMs: 300), 0, CancellationToken.None));
        Assert.Equal(TufFailureKind.TooSlow, e.Kind);
        Assert.Contains("deadline", e.Message);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_reported_as_a_slow_server()
    {
        await using var server = new RepositoryHttpServer();
        server.Override = _ => new ServedResponse(200, new byte[200]) { DripDelay = TimeSpan.FromMilliseconds(50) };
        using var fetcher = new HttpTufFetcher();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetcher.FetchAsync(new Uri(server.BaseUri, "slow"), Stream.Null, Limits(), 0, cts.Token));
    }

    [Fact]
    public async Task Resume_against_a_server_without_range_support_is_refused_instead_of_corrupting()
    {
        await using var server = new RepositoryHttpServer();
        server.Files["f"] = "0123456789"u8.ToArray();
        server.SupportsRange = false;
        using var fetcher = new HttpTufFetcher();
        var e = await Assert.ThrowsAsync<TufDownloadException>(() => fetcher.FetchAsync(new Uri(server.BaseUri, "f"), Stream.Null, Limits(), 4, CancellationToken.None));
        Assert.Contains("ignored the Range request", e.Message);
    }

    [Fact]
    public async Task Resume_asks_for_the_remaining_bytes_only()
    {
        await using var server = new RepositoryHttpServer();
        server.Files["f"] = "0123456789"u8.ToArray();
        using var fetcher = new HttpTufFetcher();
        using var ms = new MemoryStream();
        Assert.Equal(10, await fetcher.FetchAsync(new Uri(server.BaseUri, "f"), ms, Limits(max: 10), 4, CancellationToken.None));
        Assert.Equal("456789"u8.ToArray(), ms.ToArray());
        Assert.Contains("f [Range: bytes=4-]", server.Requests);
    }
}
