using System.Net;
using System.Net.Http.Headers;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Trust.Fetching;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>The anonymous <c>/tuf</c> endpoints: ETag, 304, Range/206/416, HEAD, Cache-Control, resume by the device fetcher.</summary>
public sealed class ArtifactServingTests : IAsyncLifetime
{
    private ReleaseHub _hub = null!;
    private byte[] _bundle = null!;
    private string _url = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _hub = await ReleaseHub.StartAsync();
        _bundle = (await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", releaseCounter: 1)).Bundle;
        var release = await _hub.Signer.PublishReleaseAsync("vib-mlp", "1.0.0", "t", default);
        _url = $"tuf/targets/models/vib-mlp/{release.Sha256}.1.0.0.bundle";
        _http = _hub.Client();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _hub.DisposeAsync();
    }

    [Fact]
    public async Task Targets_are_served_whole_with_a_strong_etag_and_immutable_caching()
    {
        using var r = await _http.GetAsync(_url);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(_bundle, await r.Content.ReadAsByteArrayAsync());
        Assert.Equal(_bundle.Length, r.Content.Headers.ContentLength);
        Assert.Equal($"\"{ReleaseSha()}\"", r.Headers.ETag!.Tag);
        Assert.False(r.Headers.ETag.IsWeak);
        Assert.Equal(TufEndpoints.ImmutableCacheControl, r.Headers.CacheControl!.ToString());
        Assert.Contains("bytes", r.Headers.AcceptRanges);
        Assert.Equal("application/octet-stream", r.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task A_single_range_is_answered_with_206_and_its_content_range()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _url);
        request.Headers.Range = new RangeHeaderValue(10, 99);
        using var r = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, r.StatusCode);
        Assert.Equal($"bytes 10-99/{_bundle.Length}", r.Content.Headers.ContentRange!.ToString());
        Assert.Equal(90, r.Content.Headers.ContentLength);
        Assert.Equal(_bundle[10..100], await r.Content.ReadAsByteArrayAsync());

        using var suffix = new HttpRequestMessage(HttpMethod.Get, _url);
        suffix.Headers.Range = new RangeHeaderValue(null, 5);
        using var tail = await _http.SendAsync(suffix);
        Assert.Equal(_bundle[^5..], await tail.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task An_unsatisfiable_range_is_416_and_a_stale_if_range_gets_the_whole_file()
    {
        using var beyond = new HttpRequestMessage(HttpMethod.Get, _url);
        beyond.Headers.Range = new RangeHeaderValue(_bundle.Length, null);
        using var r = await _http.SendAsync(beyond);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, r.StatusCode);
        Assert.Equal($"bytes */{_bundle.Length}", r.Content.Headers.ContentRange!.ToString());

        using var stale = new HttpRequestMessage(HttpMethod.Get, _url);
        stale.Headers.Range = new RangeHeaderValue(100, null);
        stale.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue("\"something-else\""));
        using var whole = await _http.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(_bundle.Length, (await whole.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task If_none_match_with_the_current_etag_is_304_for_targets_and_timestamp()
    {
        foreach (var url in new[] { _url, "tuf/metadata/timestamp.json" })
        {
            using var first = await _http.GetAsync(url);
            using var again = new HttpRequestMessage(HttpMethod.Get, url);
            again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
            using var r = await _http.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
            Assert.Empty(await r.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Head_gives_length_and_etag_without_a_body()
    {
        using var r = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, _url));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(_bundle.Length, r.Content.Headers.ContentLength);
        Assert.NotNull(r.Headers.ETag);
        Assert.Empty(await r.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Timestamp_is_revalidated_while_versioned_metadata_is_immutable()
    {
        using var ts = await _http.GetAsync("tuf/metadata/timestamp.json");
        Assert.Equal(TufEndpoints.TimestampCacheControl, ts.Headers.CacheControl!.ToString());
        Assert.Equal("application/json", ts.Content.Headers.ContentType!.MediaType);
        using var root = await _http.GetAsync("tuf/metadata/1.root.json");
        Assert.Equal(TufEndpoints.ImmutableCacheControl, root.Headers.CacheControl!.ToString());
        Assert.Equal(_hub.RootBytes, await root.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("tuf/metadata/2.root.json")).StatusCode);
        var bad = await _http.GetAsync("tuf/metadata/snapshot.json");
        Assert.Equal(HttpStatusCode.NotFound, bad.StatusCode);
        Assert.Contains("is not a metadata file name (N.ROLE.json or timestamp.json)", await bad.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("tuf/targets/models/vib-mlp/0000.1.0.0.bundle")).StatusCode);
    }

    [Fact]
    public async Task The_device_fetcher_resumes_an_interrupted_download_with_a_range_request()
    {
        using var fetcher = new HttpTufFetcher();
        var limits = new FetchLimits(_bundle.Length, TimeSpan.FromMinutes(1), 1, TimeSpan.FromSeconds(10));
        using var destination = new MemoryStream();
        destination.Write(_bundle, 0, 1000); // what arrived before the link dropped
        var total = await fetcher.FetchAsync(new Uri(_hub.BaseAddress, _url), destination, limits, resumeFrom: 1000, default);
        Assert.Equal(_bundle.Length, total);
        Assert.Equal(_bundle, destination.ToArray());
    }

    private string ReleaseSha() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(_bundle));
}
