using System.Security.Cryptography;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Trust.Storage;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Updates.Slots;

/// <summary>An installed, verified model: where its file is and what its manifest says.</summary>
public sealed record InstalledModel(string Slot, string ModelPath, BundleManifest Manifest, bool Committed);

/// <summary>
/// A/B model slots of one family: <c>slots/a</c> and <c>slots/b</c>, each holding
/// <c>manifest.json</c> and <c>model.onnx</c>, and <c>slots.json</c> naming the active one.
/// Installing writes only the inactive slot (each file durable), and only then the pointer is
/// switched by one atomic rename: a power cut leaves either the old or the new pointer, and the
/// slot a pointer names is always complete. <see cref="ResolveActive"/> re-hashes the model
/// against its manifest before anything loads it, so a damaged file is never served.
/// Not thread safe (one update manager per family).
/// </summary>
public sealed class ModelSlotStore
{
    private readonly UpdateStateStore _state;

    public ModelSlotStore(UpdateStateStore state) => _state = state;

    public string SlotDirectory(string slot) => Path.Combine(_state.Directory, "slots", slot);

    public string ModelPath(string slot) => Path.Combine(SlotDirectory(slot), BundleLayout.ModelEntry);

    public static string Other(string slot) => slot == "a" ? "b" : "a";

    /// <summary>Writes the bundle's files into <paramref name="slot"/> durably (the slot must not be active).</summary>
    public async Task InstallAsync(string slot, ModelBundle bundle, CancellationToken cancellationToken)
    {
        var dir = SlotDirectory(slot);
        Directory.CreateDirectory(dir);
        DurableFile.SyncDirectory(Path.GetDirectoryName(dir)!);
        // Manifest last: a slot whose manifest does not describe its model fails ResolveActive's hash check.
        DurableFile.Delete(Path.Combine(dir, BundleLayout.ManifestEntry));
        await DurableFile.WriteAsync(ModelPath(slot), bundle.Model, cancellationToken).ConfigureAwait(false);
        await DurableFile.WriteAsync(Path.Combine(dir, BundleLayout.ManifestEntry), bundle.ManifestJson, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Operator installation of a first model (provisioning; no TUF, no validation beyond the
    /// bundle's own checks): slot <c>a</c>, committed, floor at its release counter.
    /// </summary>
    public async Task InstallInitialAsync(ModelBundle bundle, CancellationToken cancellationToken)
    {
        var pointer = _state.ReadPointer();
        var slot = pointer is null ? "a" : Other(pointer.Active);
        await InstallAsync(slot, bundle, cancellationToken).ConfigureAwait(false);
        await _state.WritePointerAsync(new SlotPointer
        {
            Active = slot,
            Previous = pointer?.Active,
            ActiveVersion = bundle.Manifest.Version,
            ActiveReleaseCounter = bundle.Manifest.ReleaseCounter,
            ActiveCommitted = true,
            ReleaseCounterFloor = Math.Max(pointer?.ReleaseCounterFloor ?? 0, bundle.Manifest.ReleaseCounter),
            Rejected = pointer?.Rejected ?? [],
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The model to serve: the pointer's slot after its model matched its manifest's SHA-256.
    /// Returns null when nothing is installed. Throws <see cref="UpdateStateException"/> when the
    /// active slot is damaged (the caller may fall back to <see cref="TryVerify"/> of the previous slot).
    /// </summary>
    public InstalledModel? ResolveActive()
    {
        var pointer = _state.ReadPointer();
        if (pointer is null) return null;
        return TryVerify(pointer.Active, pointer.ActiveCommitted, out var problem)
               ?? throw new UpdateStateException($"The active model slot '{SlotDirectory(pointer.Active)}' is damaged: {problem}");
    }

    /// <summary>Loads and checks a slot; null with <paramref name="problem"/> set when it is incomplete or damaged.</summary>
    public InstalledModel? TryVerify(string slot, bool committed, out string? problem)
    {
        problem = null;
        var manifestPath = Path.Combine(SlotDirectory(slot), BundleLayout.ManifestEntry);
        var modelPath = ModelPath(slot);
        if (!File.Exists(manifestPath) || !File.Exists(modelPath))
        {
            problem = "manifest.json or model.onnx is missing";
            return null;
        }
        BundleManifest manifest;
        try { manifest = BundleManifestJson.Parse(File.ReadAllBytes(manifestPath)); }
        catch (BundleException e) { problem = e.Message; return null; }
        string sha;
        using (var fs = File.OpenRead(modelPath)) sha = Convert.ToHexStringLower(SHA256.HashData(fs));
        if (!string.Equals(sha, manifest.Model.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            problem = $"model.onnx has SHA-256 {sha}, its manifest says {manifest.Model.Sha256}";
            return null;
        }
        return new InstalledModel(slot, modelPath, manifest, committed);
    }
}
