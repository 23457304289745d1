using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Onnx;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Packaging;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using EdgeAgent.Updates.Validation;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent bundle build|inspect|install</c>: make a model bundle (the TUF target
/// <c>models/&lt;name&gt;/&lt;version&gt;.bundle</c>), look inside one (optionally validating it on this
/// device exactly as an update would), and provision a device's first model.
/// </summary>
internal static class BundleCommand
{
    public static Command Create()
    {
        var command = new Command("bundle", "Build, inspect and install model bundles (manifest.json + model.onnx in a tar)");
        command.Subcommands.Add(Build());
        command.Subcommands.Add(Inspect());
        command.Subcommands.Add(Install());
        return command;
    }

    private static Command Build()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "ONNX model file", Required = true };
        var name = new Option<string>("--name") { Description = "model family (release counters are per family)", Required = true };
        var version = new Option<string>("--version") { Description = "release name, e.g. 1.4.0", Required = true };
        var counter = new Option<long>("--release-counter") { Description = "release counter: devices refuse anything not above what they run", Required = true };
        var hardware = new Option<string[]>("--hardware-id") { Description = "hardware id allowed to run it (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var labels = new Option<string?>("--labels") { Description = "class labels in output order, comma separated" };
        var windowLength = new Option<int>("--window-length") { Description = "samples per window", DefaultValueFactory = _ => 64 };
        var windowStride = new Option<int>("--window-stride") { Description = "samples between windows", DefaultValueFactory = _ => 32 };
        var channels = new Option<int>("--channels") { Description = "channels per sample", DefaultValueFactory = _ => 1 };
        var sampleRate = new Option<double>("--sample-rate") { Description = "nominal sample rate in Hz (0: not time based)", DefaultValueFactory = _ => 0 };
        var threshold = new Option<double>("--confidence-threshold") { Description = "top probability below which a case is hard", DefaultValueFactory = _ => 0.6 };
        var budget = new Option<double>("--latency-budget-ms") { Description = "p99 single-inference budget on the device", DefaultValueFactory = _ => 20 };
        var goldenCount = new Option<int>("--golden-count") { Description = "golden vectors (seeded standard-normal inputs, outputs computed here with ONNX Runtime)", DefaultValueFactory = _ => 16 };
        var tolerance = new Option<float>("--golden-tolerance") { Description = "max absolute output difference allowed on the device", DefaultValueFactory = _ => 0.02f };
        var drift = new Option<FileInfo?>("--drift-profile") { Description = "reference drift profile JSON (edgeagent/Sketches format)" };
        var output = new Option<FileInfo>("--output", "-o") { Description = "bundle file to write", Required = true };
        var command = new Command("build", "Build a bundle from a model: contract and golden vectors come from the model, run in ONNX Runtime")
        {
            model, name, version, counter, hardware, labels, windowLength, windowStride, channels, sampleRate, threshold, budget, goldenCount, tolerance, drift, output,
        };
        CliRunner.SetAction(command, parse => Guard(command.Name, () =>
        {
            var bytes = File.ReadAllBytes(parse.GetValue(model)!.FullName);
            var manifest = new BundleManifest
            {
                Name = parse.GetValue(name)!,
                Version = parse.GetValue(version)!,
                ReleaseCounter = parse.GetValue(counter),
                HardwareIds = parse.GetValue(hardware)!.ToList(),
                Labels = parse.GetValue(labels) is { Length: > 0 } l ? l.Split(',', StringSplitOptions.TrimEntries).ToList() : [],
                Windowing = new WindowingSpec { Length = parse.GetValue(windowLength), Stride = parse.GetValue(windowStride), Channels = parse.GetValue(channels), SampleRateHz = parse.GetValue(sampleRate) },
                ConfidenceThreshold = parse.GetValue(threshold),
                LatencyBudgetMs = parse.GetValue(budget),
            };
            if (parse.GetValue(drift) is { } profile)
            {
                manifest.DriftProfile = JsonSerializer.Deserialize(File.ReadAllBytes(profile.FullName), ReferenceProfileJsonContext.Default.ReferenceProfileDocument)
                                        ?? throw new CliUsageException($"{profile.FullName} holds no drift profile.");
                ReferenceProfileJson.FromDocument(manifest.DriftProfile); // validates the sketches
            }
            BundleDraft.Fill(manifest, bytes, parse.GetValue(goldenCount), parse.GetValue(tolerance), 1, parse.GetValue(model)!.FullName);
            var path = parse.GetValue(output)!.FullName;
            var temp = path + ".tmp";
            using (var fs = File.Create(temp)) BundleBuilder.Write(manifest, bytes, fs);
            File.Move(temp, path, overwrite: true);
            var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            Console.Out.WriteLine($"bundle     {path}");
            Console.Out.WriteLine($"target     {BundleLayout.TargetPath(manifest.Name, manifest.Version)}");
            Console.Out.WriteLine($"size       {new FileInfo(path).Length:N0} bytes");
            Console.Out.WriteLine($"sha256     {sha}");
            Console.Out.WriteLine($"golden     {manifest.GoldenVectors.Vectors.Count} vectors, tolerance {manifest.GoldenVectors.Tolerance:G3}");
            return CliRunner.Ok;
        }));
        return command;
    }

    private static Command Inspect()
    {
        var bundle = new Argument<FileInfo>("bundle") { Description = "bundle file" };
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var validate = new Option<bool>("--validate") { Description = "also load it in ONNX Runtime here and run the golden vectors and latency check" };
        var hardware = new Option<string?>("--hardware-id") { Description = "check that the bundle lists this hardware id" };
        var command = new Command("inspect", "Check a bundle (entries, sizes, manifest, model hash) and show its manifest") { bundle, json, validate, hardware };
        CliRunner.SetAction(command, parse => Guard(command.Name, () =>
        {
            var file = parse.GetValue(bundle)!;
            var b = BundleReader.ReadFile(file.FullName);
            var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName)));
            if (parse.GetValue(hardware) is { } hw && !b.Manifest.HardwareIds.Contains(hw))
                throw new UpdateRefusedException(UpdateRefusal.HardwareId, $"the bundle lists hardware [{string.Join(", ", b.Manifest.HardwareIds)}], not '{hw}'.");
            ValidationReport? report = parse.GetValue(validate) ? new BundleValidator(OnnxSessionOptions.Default).ValidateModel(b) : null;
            if (parse.GetValue(json))
            {
                JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("path", file.FullName);
                    w.WriteNumber("sizeBytes", file.Length);
                    w.WriteString("sha256", sha);
                    w.WriteString("target", BundleLayout.TargetPath(b.Manifest.Name, b.Manifest.Version));
                    if (report is not null)
                    {
                        w.WriteStartObject("validation");
                        w.WriteNumber("goldenVectors", report.GoldenVectors);
                        w.WriteNumber("goldenMaxAbsError", report.GoldenMaxAbsError);
                        w.WriteNumber("p50Ms", report.P50Ms);
                        w.WriteNumber("p99Ms", report.P99Ms);
                        w.WriteNumber("budgetMs", report.BudgetMs);
                        w.WriteEndObject();
                    }
                    w.WritePropertyName("manifest");
                    w.WriteRawValue(b.ManifestJson);
                    w.WriteEndObject();
                });
                return CliRunner.Ok;
            }
            var m = b.Manifest;
            var o = Console.Out;
            o.WriteLine($"bundle     {file.FullName}");
            o.WriteLine($"size       {file.Length:N0} bytes   sha256 {sha}");
            o.WriteLine($"target     {BundleLayout.TargetPath(m.Name, m.Version)}");
            o.WriteLine($"release    {m.Name} {m.Version}   counter {m.ReleaseCounter}");
            o.WriteLine($"hardware   {string.Join(", ", m.HardwareIds)}");
            foreach (var t in m.Inputs) o.WriteLine($"input      {t}");
            foreach (var t in m.Outputs) o.WriteLine($"output     {t}");
            if (m.Labels.Count > 0) o.WriteLine($"labels     {string.Join(", ", m.Labels)}");
            o.WriteLine($"windowing  length {m.Windowing.Length}, stride {m.Windowing.Stride}, channels {m.Windowing.Channels}, {m.Windowing.SampleRateHz:G} Hz");
            o.WriteLine($"threshold  confidence {m.ConfidenceThreshold:G3}   latency budget {m.LatencyBudgetMs:G} ms (p99)");
            o.WriteLine($"golden     {m.GoldenVectors.Vectors.Count} vectors, tolerance {m.GoldenVectors.Tolerance:G3}");
            o.WriteLine($"drift      {(m.DriftProfile is null ? "no reference profile" : $"{m.DriftProfile.Features.Count} features")}");
            o.WriteLine($"model      {m.Model.Length:N0} bytes   sha256 {m.Model.Sha256} (matches)");
            if (report is not null)
                o.WriteLine($"validation golden max |Δ| {report.GoldenMaxAbsError:G3}, p50 {report.P50Ms:0.###} ms, p99 {report.P99Ms:0.###} ms of {report.BudgetMs:G} ms budget: PASS");
            return CliRunner.Ok;
        }));
        return command;
    }

    private static Command Install()
    {
        var bundle = new Argument<FileInfo>("bundle") { Description = "bundle file" };
        var models = new Option<DirectoryInfo>("--models-dir") { Description = "the agent's model directory (one sub-directory per family)", Required = true };
        var hardware = new Option<string>("--hardware-id") { Description = "this device's hardware id", Required = true };
        var command = new Command("install", "Provision a model on this device without an update server (validates it first; the release counter floor rises to its counter)")
        { bundle, models, hardware };
        CliRunner.SetAction(command, (parse, ct) => GuardAsync(command.Name, async () =>
        {
            var b = BundleReader.ReadFile(parse.GetValue(bundle)!.FullName);
            var familyDir = Path.Combine(parse.GetValue(models)!.FullName, b.Manifest.Name);
            var store = new UpdateStateStore(familyDir);
            var pointer = store.ReadPointer();
            BundleValidator.CheckPolicy(b.Manifest, b.Manifest.Name, parse.GetValue(hardware)!, pointer?.ReleaseCounterFloor ?? 0, pointer?.ActiveReleaseCounter ?? 0);
            var report = new BundleValidator(OnnxSessionOptions.Default).ValidateModel(b);
            await new ModelSlotStore(store).InstallInitialAsync(b, ct);
            Console.Out.WriteLine($"installed  {b.Manifest.Name} {b.Manifest.Version} (counter {b.Manifest.ReleaseCounter}) in {familyDir}");
            Console.Out.WriteLine($"validation golden max |Δ| {report.GoldenMaxAbsError:G3}, p99 {report.P99Ms:0.###} ms of {report.BudgetMs:G} ms");
            return CliRunner.Ok;
        }));
        return command;
    }

    // Bundle and update refusals are operator errors with actionable messages: one line, exit 1.
    private static int Guard(string verb, Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is BundleException or UpdateRefusedException or UpdateStateException)
        {
            Console.Error.WriteLine($"edgeagent bundle {verb}: {e.Message}");
            return CliRunner.Failed;
        }
    }

    private static async Task<int> GuardAsync(string verb, Func<Task<int>> body)
    {
        try { return await body(); }
        catch (Exception e) when (e is BundleException or UpdateRefusedException or UpdateStateException)
        {
            Console.Error.WriteLine($"edgeagent bundle {verb}: {e.Message}");
            return CliRunner.Failed;
        }
    }
}
