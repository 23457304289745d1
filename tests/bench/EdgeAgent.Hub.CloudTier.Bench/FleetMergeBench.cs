using System.Diagnostics;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.CloudTier.Bench;

/// <summary>One timed step of the fleet merge: minimum and median over the runs, wall and process CPU.</summary>
internal sealed record MergeRow(string What, double MinWallMs, double MedianWallMs, double MinCpuMs);

/// <summary>
/// The hub's fleet drift view for one model/version/day/feature with one KLL window (k = 200) per device, as
/// <see cref="FleetDriftReport"/> builds it: windows read from the SQLite store, each deserialized
/// (DataSketches format, validated) and merged, then PSI/KS/W1 against the registered reference profile.
/// Baselines in the same run: deserializing the same bytes without merging, with and without the store query.
/// </summary>
internal sealed class FleetMergeBench(string workDirectory, int devices, int valuesPerDevice, int runs)
{
    private const string ModelName = "vib-mlp";
    private const string Version = "1.0.0";
    private const string Feature = "accel_rms";
    private static readonly DateOnly Day = new(2026, 11, 21);

    public long ExpectedN => (long)devices * valuesPerDevice;
    public double MeanSketchBytes { get; private set; }
    public string ResultSummary { get; private set; } = "";

    public async Task<IReadOnlyList<MergeRow>> RunAsync()
    {
        string database = Path.Combine(workDirectory, "fleet-drift.db");
        await using var store = new SqliteHubStore(database);
        await store.MigrateAsync();
        await store.RegisterModelAsync(new ModelRecord(ModelName, Version, 4, "00", "[1,1] float32 -> [1,1] float32", "{}"u8.ToArray(),
            ReferenceProfileJson.Serialize(Reference()), "bench", DateTimeOffset.UtcNow), [0, 1, 2, 3], null);

        // One day window per device: a normal stream whose mean drifts a little from device to device.
        var sketches = new byte[devices][];
        var rng = new Random(42);
        var batch = new List<DriftWindowRecord>(500);
        long totalBytes = 0;
        for (int d = 0; d < devices; d++)
        {
            var sketch = new KllFloatsSketch(200, new Random(d));
            double mean = 0.05 * (rng.NextDouble() - 0.5);
            for (int i = 0; i < valuesPerDevice; i++)
            {
                sketch.Update((float)(mean + Gaussian(rng)));
            }

            sketches[d] = sketch.ToByteArray();
            totalBytes += sketches[d].Length;
            batch.Add(new DriftWindowRecord($"dev-{d:D5}", "boot-1", d + 1, ModelName, Version, Feature, Day, sketches[d]));
            if (batch.Count == batch.Capacity)
            {
                await store.StoreDriftWindowsAsync(batch);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            await store.StoreDriftWindowsAsync(batch);
        }

        MeanSketchBytes = totalBytes / (double)devices;
        var report = new FleetDriftReport(store);
        var rows = new List<MergeRow>
        {
            await TimeAsync("baseline: deserialize the 10,000 sketches (bytes in memory)", () =>
            {
                long n = 0;
                foreach (byte[] b in sketches) n += KllFloatsSketch.Deserialize(b).N;
                return Task.FromResult<object>(n);
            }),
            await TimeAsync("deserialize + merge (bytes in memory)", () =>
            {
                var merged = new KllFloatsSketch();
                foreach (byte[] b in sketches) merged.Merge(KllFloatsSketch.Deserialize(b));
                return Task.FromResult<object>(merged);
            }),
            await TimeAsync("store query only (ListDriftWindowsAsync)", async () => await store.ListDriftWindowsAsync(ModelName, Version, Day)),
            await TimeAsync("baseline: store query + deserialize", async () =>
            {
                long n = 0;
                foreach (DriftWindowRecord w in await store.ListDriftWindowsAsync(ModelName, Version, Day)) n += KllFloatsSketch.Deserialize(w.Sketch).N;
                return n;
            }),
            await TimeAsync("FleetDriftReport.BuildAsync (query + deserialize + merge + PSI/KS/W1)", async () => await report.BuildAsync(ModelName, Version, Day, CancellationToken.None)),
        };

        FleetDrift drift = await report.BuildAsync(ModelName, Version, Day, CancellationToken.None);
        FeatureDrift f = drift.Features.Single();
        if (f.Count != ExpectedN || f.Devices != devices)
        {
            throw new InvalidOperationException($"The fleet view merged N = {f.Count:N0} from {f.Devices} devices; expected {ExpectedN:N0} from {devices}.");
        }

        ResultSummary = $"merged N = {f.Count:N0} (exact) from {f.Devices:N0} devices, median {f.Median:F4}, PSI {f.Psi:F5}, KS {f.Ks:F4} (threshold {f.KsThreshold:F4}, drift {f.KsDrift}), W1/σ {f.Wasserstein1Normalized:F4}";
        return rows;
    }

    private static ReferenceProfile Reference()
    {
        var training = new FeatureAccumulator(200, new Random(5));
        var rng = new Random(6);
        for (int i = 0; i < 200_000; i++)
        {
            training.Add((float)Gaussian(rng));
        }

        return new ReferenceProfile([FeatureProfile.FromAccumulator(Feature, training)]);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private async Task<MergeRow> TimeAsync(string what, Func<Task<object>> run)
    {
        GC.KeepAlive(await run()); // warm-up (JIT, SQLite page cache)
        var wall = new double[runs];
        var cpu = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            GC.Collect();
            double c0 = ProcessCpu.Self();
            var sw = Stopwatch.StartNew();
            GC.KeepAlive(await run());
            wall[r] = sw.Elapsed.TotalMilliseconds;
            cpu[r] = (ProcessCpu.Self() - c0) * 1000;
        }

        return new MergeRow(what, wall.Min(), Stats.Median(wall), cpu.Min());
    }
}
