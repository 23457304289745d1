using System.Diagnostics;
using System.Security.Cryptography;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Trust.Client;
using EdgeAgent.Trust.Repository;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Chaos.Rig;

/// <summary>One run of the update child process.</summary>
public sealed record UpdateRunResult(IReadOnlyList<string> Lines, bool Killed, int ExitCode, string Stderr, TimeSpan Elapsed)
{
    /// <summary>The runner's final <c>DONE …</c> line, or null.</summary>
    public string? Done => Lines.LastOrDefault(l => l.StartsWith("DONE ", StringComparison.Ordinal));
}

/// <summary>A device's state directory (model family + TUF metadata), copied from the rig's template.</summary>
public sealed record UpdateDevice(string Directory, string FamilyDirectory, string MetadataDirectory);

/// <summary>
/// The update path without the daemon (until the agent's update loop is wired in): a signed TUF
/// repository (real ECDSA keys, Trust's repository tooling) with releases 1.0.0 and 2.0.0 of two real
/// INT8 models, served by a <see cref="CorruptingMirror"/>; device state directories with 1.0.0
/// installed; and tests/EdgeAgent.Updates.CrashRunner — boots like the agent (serves the active slot
/// with live inference) and runs or resumes the update with the real UpdateManager — as the child
/// process that gets SIGKILLed.
/// </summary>
public sealed class UpdateRig : IAsyncDisposable
{
    public const string Family = "kws";
    public const string HardwareId = "edge-x64-chaos";

    private readonly string _template;
    private readonly ChaosRun _run;
    private int _devices;

    private UpdateRig(ChaosRun run, string template, CorruptingMirror mirror, string targetV2, Dictionary<string, byte[]> signed, byte[] v1Bundle, byte[] v2Bundle)
    {
        _run = run;
        _template = template;
        Mirror = mirror;
        TargetV2 = targetV2;
        SignedManifests = signed;
        V1Bundle = v1Bundle;
        V2Bundle = v2Bundle;
    }

    public CorruptingMirror Mirror { get; }
    public string TargetV2 { get; }
    public byte[] V1Bundle { get; }
    public byte[] V2Bundle { get; }

    /// <summary>SHA-256 of each signed model → the manifest bytes it was signed with.</summary>
    public IReadOnlyDictionary<string, byte[]> SignedManifests { get; }

    public string V1Sha => Sha(Mlp(42).OnnxBytes);
    public string V2Sha => Sha(Mlp(7, 2).OnnxBytes);

    public static async Task<UpdateRig> CreateAsync(ChaosRun run, CancellationToken ct)
    {
        var template = run.Subdirectory("template");
        var family = Path.Combine(template, "models", Family);
        var v1 = BundleFor(Mlp(42), "1.0.0", 1);
        var v2 = BundleFor(Mlp(7, 2), "2.0.0", 2);
        var slots = new ModelSlotStore(new UpdateStateStore(family));
        await slots.InstallInitialAsync(BundleReader.Read(new MemoryStream(v1)), ct).ConfigureAwait(false);

        var repo = new TufRepository();
        var target = BundleLayout.TargetPath(Family, "2.0.0");
        repo.AddTarget(target, v2);
        repo.Publish();
        await TufClient.InitializeAsync(Path.Combine(template, "tuf"), repo.RootBytes, null, ct).ConfigureAwait(false);
        var mirror = new CorruptingMirror(run.Seed) { SubstituteBody = v1 };
        mirror.Load(repo.Files);
        var signed = new Dictionary<string, byte[]>
        {
            [Sha(Mlp(42).OnnxBytes)] = BundleReader.Read(new MemoryStream(v1)).ManifestJson,
            [Sha(Mlp(7, 2).OnnxBytes)] = BundleReader.Read(new MemoryStream(v2)).ManifestJson,
        };
        return new UpdateRig(run, template, mirror, target, signed, v1, v2);
    }

    private static GeneratedModel Mlp(ulong seed, long modelVersion = 1) => QdqMlp.Generate(new QdqMlpOptions { Seed = seed, ModelVersion = modelVersion });

    private static byte[] BundleFor(GeneratedModel model, string version, long counter)
    {
        var m = new BundleManifest
        {
            Name = Family,
            Version = version,
            ReleaseCounter = counter,
            HardwareIds = [HardwareId],
            Inputs = [new TensorDescriptor { Name = model.InputName, ElementType = "float32", Shape = [.. model.InputShape] }],
            Outputs = [new TensorDescriptor { Name = model.OutputName, ElementType = "float32", Shape = [.. model.OutputShape] }],
            Labels = [.. model.Labels],
            Windowing = new WindowingSpec { Length = 64, Stride = 32, Channels = 1, SampleRateHz = 100 },
            ConfidenceThreshold = 0.4,
            LatencyBudgetMs = 250,
            GoldenVectors = new GoldenVectorSet { Tolerance = model.ProbabilityTolerance },
        };
        for (ulong i = 0; i < 8; i++)
        {
            var input = model.Reference.SampleInput(1000 + i);
            m.GoldenVectors.Vectors.Add(new GoldenVector { Input = input, Expected = model.Reference.Run(input) });
        }
        return BundleBuilder.Build(m, model.OnnxBytes);
    }

    public static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>A fresh device: a copy of the template (1.0.0 active and committed, TUF trusted root).</summary>
    public UpdateDevice NewDevice()
    {
        var dir = Path.Combine(_run.LogDirectory, "devices", $"d{++_devices:000}");
        Copy(_template, dir);
        return new UpdateDevice(dir, Path.Combine(dir, "models", Family), Path.Combine(dir, "tuf"));
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) Copy(d, Path.Combine(to, Path.GetFileName(d)));
    }

    /// <summary>
    /// Runs the crash runner on <paramref name="device"/> (update to 2.0.0 through the mirror); with
    /// <paramref name="killAfter"/>, SIGKILLs it that long after start unless it finished first.
    /// Its output is appended to <c>runner.log</c> in the device directory.
    /// </summary>
    public async Task<UpdateRunResult> RunAsync(UpdateDevice device, TimeSpan? killAfter, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { RepoLayout.CrashRunnerDll, device.FamilyDirectory, device.MetadataDirectory, Mirror.BaseUri.AbsoluteUri, TargetV2, HardwareId })
            psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the update crash runner");
        var lines = new List<string>();
        var reader = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
                lock (lines) lines.Add(line);
        }, ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        bool killed = false;
        if (killAfter is { } delay)
        {
            try { await p.WaitForExitAsync(ct).WaitAsync(delay, ct).ConfigureAwait(false); }
            catch (TimeoutException)
            {
                p.Kill(entireProcessTree: false); // SIGKILL: no finally blocks, no flush
                killed = true;
            }
        }
        using (var bound = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            bound.CancelAfter(TimeSpan.FromSeconds(120));
            try { await p.WaitForExitAsync(bound.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("the update crash runner did not finish within 120 s");
            }
        }
        await reader.ConfigureAwait(false);
        var err = await stderr.ConfigureAwait(false);
        clock.Stop();
        string[] snapshot;
        lock (lines) snapshot = [.. lines];
        await File.AppendAllLinesAsync(Path.Combine(device.Directory, "runner.log"),
            [$"==== run ({(killed ? $"SIGKILLed after {killAfter!.Value.TotalMilliseconds:0} ms" : $"exit {p.ExitCode}")}, {clock.ElapsedMilliseconds} ms)", .. snapshot, .. err.Length > 0 ? new[] { "stderr: " + err } : []], ct).ConfigureAwait(false);
        return new UpdateRunResult(snapshot, killed && p.ExitCode != 0, p.ExitCode, err, clock.Elapsed);
    }

    /// <summary>
    /// The on-disk state serves the old or the new model, never a torn one: the state record parses,
    /// the slot pointer names a slot whose model hashes to its manifest (UpdateManager.OpenActive
    /// re-hashes), that model is one of the two signed ones with its signed manifest, and 2.0.0 is
    /// active only in a phase after validation. Returns the problem, or null; and the served version.
    /// </summary>
    public (string? Problem, string? Version) CheckNotTorn(UpdateDevice device)
    {
        try
        {
            var store = new UpdateStateStore(device.FamilyDirectory);
            var record = store.ReadRecord();
            if (store.ReadPointer() is null) return ("the slot pointer is missing", null);
            var active = UpdateManager.OpenActive(device.FamilyDirectory);
            if (active is null) return ("no verified active model (pointer names a slot whose model does not match its manifest)", null);
            var sha = Sha(File.ReadAllBytes(active.ModelPath));
            if (!SignedManifests.TryGetValue(sha, out var manifest)) return ($"serving an unknown model {sha[..12]}", null);
            if (!manifest.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(active.ModelPath)!, "manifest.json"))))
                return ($"manifest next to model {sha[..12]} differs from the signed one", null);
            if (active.Manifest.Version == "2.0.0" && record is not { Phase: UpdatePhase.Activating or UpdatePhase.Observing or UpdatePhase.Committed })
                return ($"2.0.0 is active while the update record says {record?.Phase}", null);
            return (null, active.Manifest.Version);
        }
        catch (Exception e) when (e is IOException or UpdateStateException or System.Text.Json.JsonException or InvalidDataException)
        {
            return ($"state unreadable: {e.GetType().Name}: {e.Message}", null);
        }
    }

    public ValueTask DisposeAsync() => Mirror.DisposeAsync();
}
