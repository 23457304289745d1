using EdgeAgent.Trust;
using EdgeAgent.Trust.Metadata;
using Xunit;

namespace EdgeAgent.Hub.Tests.Releases;

/// <summary>Timestamp and snapshot re-signing on a schedule (the hub's clock is shifted; clients use the same clock).</summary>
public sealed class MetadataResignTests
{
    [Fact]
    public async Task A_re_signed_timestamp_keeps_clients_working_after_the_old_one_expired()
    {
        var clock = new ShiftedClock();
        await using var hub = await ReleaseHub.StartAsync(time: clock);
        await using var device = await TestDevice.CreateAsync(hub, "dev-1", time: clock);
        var client = device.NewTufClient(clock);
        await client.RefreshAsync(default);
        Assert.Equal(1, client.Trusted!.Timestamp!.Signed.Version);
        var first = TimestampExpiry(await hub.Store.GetTufMetadataAsync("1.timestamp.json"));

        clock.Advance(TimeSpan.FromHours(6));
        Assert.Null(await hub.Signer.ResignDueAsync(default)); // three quarters of its day left: nothing to do
        clock.Advance(TimeSpan.FromHours(7));
        var resigned = await hub.Signer.ResignDueAsync(default);
        Assert.Equal(2, resigned!.Timestamp);
        Assert.Equal(1, resigned.Snapshot); // a week's validity: not due yet

        clock.Advance(TimeSpan.FromHours(12)); // 25 h: the first timestamp has expired
        Assert.True(first < clock.GetUtcNow());
        await device.NewTufClient(clock).RefreshAsync(default);

        // Without re-signing, clients refuse the stale timestamp (freeze protection): the loop is what keeps them working.
        clock.Advance(TimeSpan.FromDays(1));
        var stale = await Assert.ThrowsAsync<TufException>(() => device.NewTufClient(clock).RefreshAsync(default));
        Assert.Equal(TufFailureKind.Expired, stale.Kind);

        var later = await hub.Signer.ResignDueAsync(default);
        Assert.Equal(3, later!.Timestamp);
        Assert.Equal(1, later.Snapshot);
        await device.NewTufClient(clock).RefreshAsync(default);

        clock.Advance(TimeSpan.FromDays(2)); // about 4 days in: past half of the snapshot's week
        var snapshot = await hub.Signer.ResignDueAsync(default);
        Assert.Equal(2, snapshot!.Snapshot);
        Assert.Equal(4, snapshot.Timestamp);
        Assert.Equal(1, snapshot.Targets); // 90 days
        var refreshed = device.NewTufClient(clock);
        await refreshed.RefreshAsync(default);
        Assert.Equal(2, refreshed.Trusted!.Snapshot!.Signed.Version);
    }

    [Fact]
    public async Task The_hosted_loop_re_signs_on_its_interval_without_any_publication()
    {
        var clock = new ShiftedClock();
        await using var hub = await ReleaseHub.StartAsync(time: clock,
            tweak: o => o with { TimestampLifetime = TimeSpan.FromHours(1), ResignInterval = TimeSpan.FromMilliseconds(100) });
        Assert.Equal(1, (await hub.Store.GetTufMetadataAsync("timestamp.json"))!.Version);
        clock.Advance(TimeSpan.FromMinutes(31));
        var ts = await Fixtures.Eventually.ValueAsync(() => hub.Store.GetTufMetadataAsync("timestamp.json"), t => t!.Version >= 2, "re-signed timestamp");
        Assert.True(TimestampExpiry(ts) > clock.GetUtcNow().AddMinutes(59));
    }

    private static DateTimeOffset TimestampExpiry(EdgeAgent.Hub.Storage.TufMetadataFile? file) =>
        SignedMetadata<TimestampMetadata>.Parse(file!.Content, static (j, w) => new TimestampMetadata(j, w), "timestamp").Signed.Expires;
}
