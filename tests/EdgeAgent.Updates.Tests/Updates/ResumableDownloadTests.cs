using System.Text.Json;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Updates.Download;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Updates;

public sealed class ResumableDownloadTests
{
    private static async Task<(UpdateTestBed Bed, string Target, byte[] Bundle)> BedAsync()
    {
        var bed = await UpdateTestBed.CreateAsync();
        var bundle = TestModels.Bundle(TestModels.V2, "2.0.0", 2);
        return (bed, bed.Publish("2.0.0", bundle), bundle);
    }

    private static string PartFile(UpdateTestBed bed) => Path.Combine(bed.FamilyDir, "download", "2.0.0.bundle.part");

    [Fact]
    public async Task A_server_that_ignores_Range_makes_the_next_attempt_start_from_zero_and_still_commit()
    {
        var (bed, target, bundle) = await BedAsync();
        await using var _ = bed;
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        bed.Server.CutAfterBytes = bundle.Length / 3;
        Assert.True((await bed.NewManager().ApplyAsync(target, CancellationToken.None)).Interrupted);
        bed.Server.IgnoreRange = true;
        var second = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.True(second.Interrupted);
        Assert.Contains("ignored the Range request", second.Reason);
        Assert.Equal(0, new UpdateStateStore(bed.FamilyDir).ReadRecord()!.DownloadCheckpoint);
        var third = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Committed, third.Phase);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V2.OnnxBytes), bed.ServingModelSha());
    }

    [Fact]
    public async Task Bytes_after_the_last_checkpoint_are_discarded_on_resume_as_after_a_power_cut()
    {
        var (bed, target, bundle) = await BedAsync();
        await using var _ = bed;
        var client = bed.NewTufClient();
        var info = await client.GetTargetAsync(target, CancellationToken.None);
        var uri = new Uri(bed.Server.TargetsUri, Trust.Client.TufClient.TargetUrlPath(info.File, true));
        var part = Path.Combine(bed.Directory, "x.part");
        // Power cut: the file holds the first 40 000 bytes, checkpointed at 32 768, then 5 000 bytes of garbage
        // that the file system kept (length updated, data not).
        var content = bundle[..40_000].Concat(new byte[5_000]).ToArray();
        await File.WriteAllBytesAsync(part, content);
        var download = new ResumableTargetDownload(bed.Fetcher, new FetchLimits(info.Length, TimeSpan.FromMinutes(1), 1, TimeSpan.FromSeconds(10)), 16 * 1024);
        await download.DownloadAsync(uri, part, info.Length, info.Hashes, 32_768, (_, _) => Task.CompletedTask, CancellationToken.None);
        Assert.Equal(bundle, await File.ReadAllBytesAsync(part));
        Assert.Equal(32_768, download.LastResumedFrom);
        Assert.Equal(bundle.Length - 32_768, download.LastFetchedBytes);
        Assert.Equal(32_768, bed.Server.Requests.Single(r => r.Path.StartsWith("targets/", StringComparison.Ordinal)).RangeStart);
    }

    [Fact]
    public async Task A_damaged_resumed_prefix_fails_the_TUF_hash_then_one_clean_restart_commits()
    {
        var (bed, target, bundle) = await BedAsync();
        await using var _ = bed;
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        bed.Server.CutAfterBytes = bundle.Length / 2;
        Assert.True((await bed.NewManager().ApplyAsync(target, CancellationToken.None)).Interrupted);
        var part = PartFile(bed);
        var bytes = await File.ReadAllBytesAsync(part);
        bytes[100] ^= 0xFF; // bit rot in the kept prefix
        await File.WriteAllBytesAsync(part, bytes);

        var second = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.True(second.Interrupted);
        Assert.Contains("does not match its pinned sha256 hash", second.Reason);
        Assert.False(File.Exists(part));
        var third = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Committed, third.Phase);
        Assert.Equal(0, traffic.Failures);
    }

    [Fact]
    public async Task An_update_that_does_not_fit_on_disk_is_refused_before_downloading()
    {
        var (bed, target, _) = await BedAsync();
        await using var _ = bed;
        var outcome = await bed.NewManager(o => o with { DiskReserveBytes = long.MaxValue / 4 }).ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdateRefusal.InsufficientDisk, outcome.Refusal);
        Assert.Contains("MiB free", outcome.Reason);
        Assert.DoesNotContain(bed.Server.Requests, r => r.Path.StartsWith("targets/", StringComparison.Ordinal));
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), bed.ServingModelSha());
    }

    [Fact]
    public async Task A_target_longer_than_its_signed_length_is_refused()
    {
        var (bed, target, bundle) = await BedAsync();
        await using var _ = bed;
        foreach (var key in bed.Server.Files.Keys.Where(k => k.StartsWith("targets/", StringComparison.Ordinal)).ToList())
            bed.Server.Files[key] = bundle.Concat(new byte[10_000]).ToArray();
        var outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdatePhase.Refused, outcome.Phase);
        Assert.Equal(UpdateRefusal.TargetHash, outcome.Refusal);
        Assert.Contains($"{bundle.Length} bytes", outcome.Reason);
    }
}

public sealed class SlotAndEventTests
{
    [Fact]
    public async Task A_damaged_active_slot_is_never_served_the_previous_slot_is()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        await using (var traffic = new LiveTraffic(bed.Engine, bed.Monitor))
        {
            var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
            Assert.Equal(UpdatePhase.Committed, (await bed.NewManager().ApplyAsync(target, CancellationToken.None)).Phase);
        }
        var store = new UpdateStateStore(bed.FamilyDir);
        var pointer = store.ReadPointer()!;
        var activeModel = new ModelSlotStore(store).ModelPath(pointer.Active);
        var bytes = await File.ReadAllBytesAsync(activeModel);
        bytes[^10] ^= 0x01;
        await File.WriteAllBytesAsync(activeModel, bytes);

        var served = UpdateManager.OpenActive(bed.FamilyDir)!;
        Assert.Equal("1.0.0", served.Manifest.Version);
        Assert.Equal(UpdateTestBed.Sha(TestModels.V1.OnnxBytes), UpdateTestBed.Sha(await File.ReadAllBytesAsync(served.ModelPath)));
        Assert.Equal(served.Slot, store.ReadPointer()!.Active); // the fallback is durable
    }

    [Fact]
    public async Task Without_an_intact_slot_start_up_fails_with_the_recovery_command()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var store = new UpdateStateStore(bed.FamilyDir);
        File.WriteAllBytes(new ModelSlotStore(store).ModelPath(store.ReadPointer()!.Active), [1, 2, 3]);
        var e = Assert.Throws<UpdateStateException>(() => UpdateManager.OpenActive(bed.FamilyDir));
        Assert.Contains("edgeagent bundle install", e.Message);
    }

    [Fact]
    public void Update_events_are_small_camel_case_json_records()
    {
        var e = new Events.UpdateEvent("kws", "2.0.0", 2, "observing", "rolled-back", "outputs collapsed", new() { ["calls"] = 120 }, new DateTimeOffset(2026, 11, 22, 6, 0, 0, TimeSpan.Zero));
        var json = JsonDocument.Parse(e.ToJson()).RootElement;
        Assert.Equal("kws", json.GetProperty("family").GetString());
        Assert.Equal("rolled-back", json.GetProperty("to").GetString());
        Assert.Equal(120, json.GetProperty("metrics").GetProperty("calls").GetDouble());
        Assert.True(e.ToJson().Length < 300);
    }
}
