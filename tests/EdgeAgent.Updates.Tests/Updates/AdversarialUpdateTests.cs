using System.Formats.Tar;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Tests.Infrastructure;

namespace EdgeAgent.Updates.Tests.Updates;

/// <summary>Every bad release is refused with a clear reason while the old model keeps serving, untouched.</summary>
public sealed class AdversarialUpdateTests
{
    private static async Task<UpdateOutcome> RefusedAsync(UpdateTestBed bed, string target, UpdateRefusal refusal, string reasonFragment,
        long floor = 1)
    {
        var before = bed.Predict();
        var sourceBefore = bed.Engine.Source;
        await using var traffic = new LiveTraffic(bed.Engine, bed.Monitor);
        UpdateOutcome outcome;
        var attempts = 0;
        do outcome = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        while (outcome.Interrupted && ++attempts < 3);

        Assert.Equal(UpdatePhase.Refused, outcome.Phase);
        Assert.True(outcome.Refusal == refusal, $"expected {refusal}, got {outcome.Refusal}: {outcome.Reason}");
        Assert.Contains(reasonFragment, outcome.Reason);
        // The old model is still the one serving, from the same slot, with the same answers.
        Assert.Equal(sourceBefore, bed.Engine.Source);
        Assert.Equal(UpdateTestBed.Sha(bed.InitialModel), bed.ServingModelSha());
        Assert.Equal(before, bed.Predict());
        Assert.Equal(0, traffic.Failures);
        var pointer = new UpdateStateStore(bed.FamilyDir).ReadPointer()!;
        Assert.Equal("1.0.0", pointer.ActiveVersion);
        Assert.Equal(floor, pointer.ReleaseCounterFloor);
        Assert.Equal(UpdateManager.OpenActive(bed.FamilyDir)!.ModelPath, sourceBefore); // a restart serves it too
        var last = bed.Events.Events[^1];
        Assert.Equal("refused", last.To);
        Assert.Equal(outcome.Reason, last.Reason);
        Assert.Equal(refusal.ToString(), last.Code);
        Assert.False(Directory.Exists(Path.Combine(bed.FamilyDir, "download"))); // nothing left behind
        return outcome;
    }

    [Fact]
    public async Task A_lower_release_counter_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync(TestModels.Bundle(TestModels.V1, "1.0.0", 5));
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 4));
        var outcome = await RefusedAsync(bed, target, UpdateRefusal.ReleaseCounter, "release counter 4, not above 5", floor: 5);
        Assert.Contains("release counters never go back", outcome.Reason);
    }

    [Fact]
    public async Task An_equal_release_counter_for_another_release_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 1));
        await RefusedAsync(bed, target, UpdateRefusal.ReleaseCounter, "not above 1");
    }

    [Fact]
    public async Task A_bundle_for_other_hardware_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2, m => m.HardwareIds = ["jetson-nano"]));
        await RefusedAsync(bed, target, UpdateRefusal.HardwareId, "this device is 'edge-x64-test'");
    }

    [Fact]
    public async Task A_model_that_misses_its_golden_vectors_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        // v2's weights with v1's golden vectors: a release whose model was swapped after the vectors were made.
        var m = TestModels.Manifest(TestModels.V1, "2.0.0", 2);
        var target = bed.Publish("2.0.0", BundleBuilder.Build(m, TestModels.V2.OnnxBytes));
        await RefusedAsync(bed, target, UpdateRefusal.GoldenVector, "golden vector 0");
    }

    [Fact]
    public async Task A_model_over_its_latency_budget_on_this_device_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        // 100 ns: below what any ONNX Runtime call takes on any CPU.
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2, m => m.LatencyBudgetMs = 0.0001));
        await RefusedAsync(bed, target, UpdateRefusal.LatencyBudget, "above its 0 ms budget");
    }

    [Fact]
    public async Task A_manifest_contract_that_does_not_match_the_model_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var cnn = QdqCnn1d.Generate();
        // The CNN's model under a manifest declaring the MLP's contract (its golden vectors fit that contract).
        var target = bed.Publish("2.0.0", BundleBuilder.Build(TestModels.Manifest(TestModels.V2, "2.0.0", 2), cnn.OnnxBytes));
        await RefusedAsync(bed, target, UpdateRefusal.ContractMismatch, "manifest declares input 0 as 'input' [1,64] float32");
    }

    [Fact]
    public async Task A_signed_but_corrupt_tar_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var bundle = TestModels.Bundle(TestModels.V2, "2.0.0", 2);
        var target = bed.Publish("2.0.0", bundle[..(bundle.Length - 700)]);
        await RefusedAsync(bed, target, UpdateRefusal.BundleFormat, "release 2.0.0:");
    }

    [Fact]
    public async Task A_signed_bundle_with_a_path_traversal_entry_is_refused()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var good = BundleReader.Read(new MemoryStream(TestModels.Bundle(TestModels.V2, "2.0.0", 2)));
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(good.ManifestJson) });
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "../../../etc/edgeagent/agent.json") { DataStream = new MemoryStream("{}"u8.ToArray()) });
        }
        var target = bed.Publish("2.0.0", ms.ToArray());
        await RefusedAsync(bed, target, UpdateRefusal.BundleFormat, "path traversal");
        Assert.False(File.Exists(Path.Combine(bed.Directory, "..", "..", "..", "etc", "edgeagent", "agent.json")));
    }

    [Fact]
    public async Task A_bundle_substituted_on_the_server_is_refused_against_the_TUF_hashes()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2));
        // Same length, other bytes: a mirror serving a tampered bundle under the signed name.
        var evil = TestModels.Bundle(TestModels.V2, "2.0.0", 2);
        evil[^2000] ^= 0x5A;
        foreach (var key in bed.Server.Files.Keys.Where(k => k.StartsWith("targets/", StringComparison.Ordinal)).ToList())
            bed.Server.Files[key] = evil;
        await RefusedAsync(bed, target, UpdateRefusal.TargetHash, "does not match its pinned sha256 hash");
    }

    [Fact]
    public async Task A_refused_release_is_not_retried_with_the_same_bytes()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var target = bed.Publish("2.0.0", TestModels.Bundle(TestModels.V2, "2.0.0", 2, m => m.HardwareIds = ["other"]));
        await RefusedAsync(bed, target, UpdateRefusal.HardwareId, "other");
        var fetchedBefore = bed.Server.TargetBytesSent;
        var again = await bed.NewManager().ApplyAsync(target, CancellationToken.None);
        Assert.Equal(UpdateRefusal.PreviouslyRejected, again.Refusal);
        Assert.Equal(fetchedBefore, bed.Server.TargetBytesSent);
    }

    [Fact]
    public async Task A_release_with_another_contract_than_the_serving_model_is_refused_before_installation()
    {
        await using var bed = await UpdateTestBed.CreateAsync();
        var cnn = QdqCnn1d.Generate();
        var m = new BundleManifest
        {
            Name = TestModels.Family, Version = "2.0.0", ReleaseCounter = 2, HardwareIds = [TestModels.HardwareId],
            Windowing = new WindowingSpec { Length = 128, Stride = 64, Channels = 3 }, ConfidenceThreshold = 0.5, LatencyBudgetMs = 250,
        };
        EdgeAgent.Updates.Packaging.BundleDraft.Fill(m, cnn.OnnxBytes, 4, 0.02f, 1, "cnn");
        var target = bed.Publish("2.0.0", BundleBuilder.Build(m, cnn.OnnxBytes));
        await RefusedAsync(bed, target, UpdateRefusal.ContractMismatch, "changes the model contract of the serving model");
        Assert.False(Directory.Exists(Path.Combine(bed.FamilyDir, "slots", "b"))); // nothing was installed
    }
}
