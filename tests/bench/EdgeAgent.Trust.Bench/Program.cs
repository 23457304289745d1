// Refresh + verify cost of the TUF client for metadata listing 1,000 targets (top-level, and
// spread over delegated roles), against the floor measured in the same run: parsing the same
// bytes with System.Text.Json and hashing them with SHA-256, which any client must at least do.
//
//   dotnet run -c Release --project tests/bench/EdgeAgent.Trust.Bench [-- iterations]

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Fetching;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Trust.Storage;

var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
const int Targets = 1000;
const int DelegatedRoles = 20;

Console.WriteLine($"# EdgeAgent.Trust benchmark — {Environment.ProcessorCount} CPUs, {RuntimeInformationText()}, {iterations} interleaved rounds: median (p90) wall time; median thread CPU time; bytes allocated per run");
Console.WriteLine();
Console.WriteLine("| scenario | files / bytes | floor: parse + SHA-256 | floor + 1 ECDSA verify per file | verify chain in memory | refresh to disk (fsync) | verify / floor+ECDSA (CPU) |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");

Run("1,000 targets in `targets`", BuildFlat(), []);
var (delegated, lookups) = BuildDelegated();
Run($"1,000 targets over {DelegatedRoles} delegated roles (+ search in each)", delegated, lookups);

void Run(string name, TufRepository repo, string[] lookups)
{
    var files = repo.Files.Where(f => f.Key.StartsWith("metadata/", StringComparison.Ordinal)).ToDictionary(f => f.Key, f => f.Value);
    var totalBytes = files.Where(f => !f.Key.EndsWith(".root.json", StringComparison.Ordinal) || f.Key == "metadata/1.root.json").Sum(f => (long)f.Value.Length);
    var fetcher = new MemoryFetcher(files);
    var root = repo.Files["metadata/1.root.json"];

    // Floor: every byte the client must read, parsed and hashed once.
    Task Floor()
    {
        foreach (var bytes in files.Values)
        {
            using var doc = JsonDocument.Parse(bytes);
            SHA256.HashData(bytes);
        }
        return Task.CompletedTask;
    }

    // Floor with cryptography: the same, plus one ECDSA P-256 verification per metadata file
    // (the signature work no TUF client can skip; keys imported beforehand).
    using var floorKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    var floorSig = floorKey.SignHash(new byte[32], DSASignatureFormat.Rfc3279DerSequence);
    Task FloorWithSignatures()
    {
        foreach (var bytes in files.Values)
        {
            using var doc = JsonDocument.Parse(bytes);
            var digest = SHA256.HashData(bytes);
            floorKey.VerifyHash(digest, floorSig, DSASignatureFormat.Rfc3279DerSequence);
        }
        return Task.CompletedTask;
    }

    // Verification alone: the TrustedMetadataSet chain over the same bytes, no I/O.
    Task Verify()
    {
        var set = new TrustedMetadataSet(root, TrustState.Initial(1, DateTimeOffset.UtcNow), DateTimeOffset.UtcNow);
        set.CheckFinalRoot();
        set.UpdateTimestamp(files["metadata/timestamp.json"]);
        set.UpdateSnapshot(files[$"metadata/{set.Timestamp!.Signed.SnapshotMeta.Version}.snapshot.json"], false);
        var t = set.UpdateTargets(files[$"metadata/{set.Snapshot!.Signed.Meta["targets.json"].Version}.targets.json"], "targets", "root");
        foreach (var d in t.Signed.Delegations?.Roles ?? [])
            set.UpdateTargets(files[$"metadata/{set.Snapshot.Signed.Meta[d.Name + ".json"].Version}.{d.Name}.json"], d.Name, "targets");
        return Task.CompletedTask;
    }

    // The real client: fresh directory, init, refresh, target searches; durable writes included.
    var scratch = Directory.CreateTempSubdirectory("edgeagent-trust-bench-").FullName;
    var n = 0;
    async Task Refresh()
    {
        var dir = Path.Combine(scratch, (n++).ToString(CultureInfo.InvariantCulture));
        await TufClient.InitializeAsync(dir, root, null, CancellationToken.None);
        var client = new TufClient(new TufClientOptions { MetadataDirectory = dir, MetadataBaseUri = new Uri("http://repo.invalid/metadata/") }, fetcher);
        await client.RefreshAsync(CancellationToken.None);
        foreach (var path in lookups)
            if (await client.FindTargetAsync(path, CancellationToken.None) is null) throw new InvalidOperationException(path);
    }

    // Interleaved rounds: all three see the same machine load, so their ratio is meaningful even
    // on a shared, busy machine.
    var samples = Measure(Floor, FloorWithSignatures, Verify, Refresh);
    Directory.Delete(scratch, recursive: true);
    var (floor, floorSigs, verify, refresh) = (samples[0], samples[1], samples[2], samples[3]);
    var ratio = verify.CpuMedian / floorSigs.CpuMedian;
    Console.WriteLine($"| {name} | {files.Count} / {totalBytes:N0} | {floor} | {floorSigs} | {verify} | {refresh} | {ratio:0.0}× |");
}

Stats[] Measure(params Func<Task>[] actions)
{
    for (var i = 0; i < 3; i++)
        foreach (var a in actions) a().GetAwaiter().GetResult(); // warm-up (JIT, tiering)
    var raw = actions.Select(_ => new double[iterations]).ToArray();
    var alloc = new long[actions.Length];
    var cpu = actions.Select(_ => new double[iterations]).ToArray();
    for (var i = 0; i < iterations; i++)
        for (var k = 0; k < actions.Length; k++)
        {
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var cpu0 = ThreadCpu.Milliseconds();
            var sw = Stopwatch.StartNew();
            actions[k]().GetAwaiter().GetResult();
            raw[k][i] = sw.Elapsed.TotalMilliseconds;
            cpu[k][i] = ThreadCpu.Milliseconds() - cpu0;
            alloc[k] = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        }
    return raw.Select(r =>
    {
        var sorted = r.Order().ToArray();
        return (sorted, r);
    }).Select((x, k) => new Stats(x.sorted[x.sorted.Length / 2], x.sorted[(int)(x.sorted.Length * 0.9)], x.r, alloc[k], Median(cpu[k]))).ToArray();
}

static double Median(double[] values) => values.Order().ElementAt(values.Length / 2);

TufRepository BuildFlat()
{
    var repo = new TufRepository();
    foreach (var r in new[] { "root", "timestamp", "snapshot", "targets" }) repo.SetExpires(r, DateTimeOffset.UtcNow.AddDays(30));
    for (var i = 0; i < Targets; i++)
        repo.AddTarget($"models/m{i % 50}/{i}.bundle", BitConverter.GetBytes(i), Cj.Obj(("release", Cj.Int(i)), ("hardware", Cj.Str("rpi4"))));
    repo.Publish();
    return repo;
}

(TufRepository, string[]) BuildDelegated()
{
    var repo = new TufRepository();
    foreach (var r in new[] { "root", "timestamp", "snapshot", "targets" }) repo.SetExpires(r, DateTimeOffset.UtcNow.AddDays(30));
    var lookups = new List<string>();
    for (var d = 0; d < DelegatedRoles; d++)
    {
        var key = SigningKey.CreateEcdsaP256();
        repo.Delegate("targets", new DelegationSpec($"team{d}", [key], 1, Paths: [$"team{d}/*"]));
        for (var i = 0; i < Targets / DelegatedRoles; i++)
            repo.AddTarget($"team{d}/{i}.bundle", BitConverter.GetBytes(d * 1000 + i), Cj.Obj(("release", Cj.Int(i))), role: $"team{d}");
        lookups.Add($"team{d}/0.bundle");
    }
    repo.Publish();
    return (repo, lookups.ToArray());
}

static string RuntimeInformationText() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

internal readonly record struct Stats(double Median, double P90, double[] Raw, long AllocatedBytes, double CpuMedian)
{
    public override string ToString() => $"{Median:0.00} ms ({P90:0.00}); CPU {CpuMedian:0.00} ms; {AllocatedBytes / 1024.0:N0} KiB";
}

/// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): robust to load from other processes.</summary>
internal static partial class ThreadCpu
{
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    public static double Milliseconds() => ClockGetTime(3, out var ts) == 0 ? ts.Seconds * 1e3 + ts.Nanoseconds / 1e6 : double.NaN;
}

/// <summary>Serves the repository's bytes from memory so the figures exclude the network.</summary>
internal sealed class MemoryFetcher(IReadOnlyDictionary<string, byte[]> files) : ITufFetcher
{
    public async Task<long> FetchAsync(Uri uri, Stream destination, FetchLimits limits, long resumeFrom, CancellationToken cancellationToken)
    {
        var key = "metadata/" + uri.Segments[^1];
        if (!files.TryGetValue(key, out var bytes))
            throw new EdgeAgent.Trust.TufDownloadException(EdgeAgent.Trust.TufFailureKind.Download, uri, "not found", 404);
        if (bytes.Length > limits.MaxLength)
            throw new EdgeAgent.Trust.TufDownloadException(EdgeAgent.Trust.TufFailureKind.TooLarge, uri, "too large");
        await destination.WriteAsync(bytes, cancellationToken);
        return bytes.Length;
    }
}
