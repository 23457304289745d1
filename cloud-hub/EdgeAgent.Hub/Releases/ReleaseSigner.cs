using System.Security.Cryptography;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Repository;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Releases;

/// <summary>A release or assignment request the hub refuses; <see cref="Status"/> is the HTTP status to answer.</summary>
public sealed class ReleaseRejectedException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;
}

/// <summary>How long each signed role stays valid; a role is re-signed when less than half is left.</summary>
public sealed record RoleLifetimes(TimeSpan Timestamp, TimeSpan Snapshot, TimeSpan Targets)
{
    public static RoleLifetimes From(HubOptions o) => new(o.TimestampLifetime, o.SnapshotLifetime, o.TargetsLifetime);

    public TimeSpan Of(string role) => role switch
    {
        "timestamp" => Timestamp,
        "snapshot" => Snapshot,
        _ => Targets, // targets and the delegated assignments role
    };
}

/// <summary>What one publication produced.</summary>
public sealed record PublishedVersions(long Timestamp, long Snapshot, long Targets, long Assignments);

/// <summary>
/// Signs and publishes the hub's TUF repository (DESIGN §6) with the online keys: model releases as
/// <c>models/&lt;name&gt;/&lt;version&gt;.bundle</c> in <c>targets</c>, device assignments in the delegated
/// <c>assignments</c> role (its own key, paths <c>assignments/*</c>), then a snapshot and timestamp.
/// The store is the repository: each publication reloads the newest metadata inside the store's publish
/// transaction, so several hub instances over one PostgreSQL publish consecutive, never reused versions
/// and serve the same files. After each publication the retained fleet hint is sent.
/// Thread safe: publications of one instance queue on a semaphore, instances on the store's lock.
/// </summary>
public sealed class ReleaseSigner : IDeviceAssignmentPublisher
{
    private readonly IHubStore _store;
    private readonly OnlineTrustKeys? _keys;
    private readonly RoleLifetimes _lifetimes;
    private readonly TimeProvider _time;
    private readonly FleetHintPublisher? _hint;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <param name="keys">Null: this instance cannot sign (publishing throws a 503 <see cref="ReleaseRejectedException"/>).</param>
    public ReleaseSigner(IHubStore store, OnlineTrustKeys? keys, RoleLifetimes lifetimes, TimeProvider time, FleetHintPublisher? hint, ILogger<ReleaseSigner> logger)
    {
        _store = store;
        _keys = keys;
        _lifetimes = lifetimes;
        _time = time;
        _hint = hint;
        _logger = logger;
    }

    /// <summary>Whether this instance holds the online keys.</summary>
    public bool CanSign => _keys is not null;

    /// <summary>
    /// Makes the repository servable: on an empty store publishes root (from the trust directory),
    /// targets with the assignments delegation, an empty assignments role, snapshot and timestamp; imports
    /// newer roots placed in the trust directory by a rotation (and re-signs everything with the keys it
    /// names). Returns null when nothing had to change.
    /// </summary>
    public Task<PublishedVersions?> InitializeAsync(CancellationToken ct) => PublishAsync("initialize", (repo, current) => null, ct);

    /// <summary>Publishes a registered model version as a target; the bundle comes from the model registry.</summary>
    /// <exception cref="ReleaseRejectedException">Unknown model (404), already published (409), no keys (503).</exception>
    public async Task<ReleaseRecord> PublishReleaseAsync(string model, string version, string actor, CancellationToken ct)
    {
        RequireKeys();
        if (!BundleLayout.IsName(model) || !BundleLayout.IsName(version))
            throw new ReleaseRejectedException(400, $"model '{model}' version '{version}': names are 1–64 letters, digits, '.', '_' or '-'");
        var record = await _store.GetModelAsync(model, version, ct)
                     ?? throw new ReleaseRejectedException(404, $"model '{model}' version '{version}' is not registered; register it first (POST /api/v1/models)");
        if (await _store.GetReleaseAsync(model, version, ct) is { } existing)
            throw new ReleaseRejectedException(409, $"model '{model}' version '{version}' was already published (targets v{existing.TargetsVersion}); versions are immutable");
        var bundle = await _store.GetModelBundleAsync(model, version, ct)
                     ?? throw new ReleaseRejectedException(409, $"model '{model}' version '{version}' has no bundle (registered before bundles existed); register a new version");
        var manifest = BundleManifestJson.Parse(record.Manifest);
        var path = BundleLayout.TargetPath(model, version);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bundle));
        ReleaseRecord? release = null;
        await PublishAsync($"release {model}@{version}", (repo, now) =>
        {
            if (repo.TargetsOf("targets").Any(t => t.Path == path))
                throw new ReleaseRejectedException(409, $"'{path}' is already a target; versions are immutable");
            // custom is signed with the rest: the release counter lets devices refuse a downgrade before
            // they download (Uptane), the registry digest ties the target to the registered model.
            repo.AddTarget(path, bundle, Cj.Obj(
                ("name", Cj.Str(model)), ("version", Cj.Str(version)), ("releaseCounter", Cj.Int(manifest.ReleaseCounter)),
                ("hardwareIds", Cj.Arr(manifest.HardwareIds.Select(h => (CjValue)Cj.Str(h)))), ("modelSha256", Cj.Str(record.Sha256))));
            Renew(repo, "targets", now);
            repo.PublishTargets("targets");
            release = new ReleaseRecord(model, version, path, manifest.ReleaseCounter, bundle.Length, sha, repo.VersionOf("targets"), actor, now);
            return release;
        }, ct);
        return release!;
    }

    public async Task PublishAsync(IReadOnlyList<DeviceAssignment> assignments, CancellationToken ct)
    {
        RequireKeys();
        if (assignments.Count == 0) return;
        var files = new List<(DeviceAssignment Assignment, string Path, byte[] Json)>(assignments.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in assignments)
        {
            string path;
            byte[] json;
            try
            {
                path = DeviceAssignmentLayout.TargetPath(a.DeviceId);
                json = DeviceAssignmentLayout.Serialize(a);
                DeviceAssignmentLayout.Parse(json, a.DeviceId); // the device's own check, before anything is signed
            }
            catch (BundleException e)
            {
                throw new ReleaseRejectedException(400, e.Message, e);
            }
            if (!seen.Add(a.DeviceId))
                throw new ReleaseRejectedException(400, $"device '{a.DeviceId}' appears twice in one assignment batch; send one assignment per device");
            files.Add((a, path, json));
        }
        await PublishAsync($"{files.Count} assignment(s)", (repo, now) =>
        {
            var released = repo.TargetsOf("targets").Select(t => t.Path).ToHashSet(StringComparer.Ordinal);
            foreach (var (a, _, _) in files)
                foreach (var (family, target) in a.Models)
                    if (!released.Contains(target))
                        throw new ReleaseRejectedException(409, $"assignment for '{a.DeviceId}' names '{target}' ({family}), which is not a published release; publish it first (POST /api/v1/releases)");
            foreach (var (_, path, json) in files) repo.AddTarget(path, json, role: DeviceAssignmentLayout.RoleName);
            Renew(repo, DeviceAssignmentLayout.RoleName, now);
            repo.PublishTargets(DeviceAssignmentLayout.RoleName);
            return null;
        }, ct, version => files.Select(f => new DeviceAssignmentRecord(f.Assignment.DeviceId, f.Json, f.Assignment.Rollout, version, _time.GetUtcNow())).ToList());
    }

    public async Task<DeviceAssignment?> GetAsync(string deviceId, CancellationToken ct)
    {
        var row = await _store.GetDeviceAssignmentAsync(deviceId, ct);
        return row is null ? null : DeviceAssignmentLayout.Parse(row.Assignment, deviceId);
    }

    /// <summary>
    /// Re-signs every role with less than half of its lifetime left (timestamp on its own; targets roles
    /// and snapshot when due, each followed by a new snapshot and timestamp). Returns null when nothing
    /// was due. Called on a schedule by <see cref="MetadataResignService"/>.
    /// </summary>
    public Task<PublishedVersions?> ResignDueAsync(CancellationToken ct) => PublishAsync("re-sign", (repo, now) => null, ct);

    private void RequireKeys()
    {
        if (_keys is null)
            throw new ReleaseRejectedException(503, "this hub instance has no signing keys: start 'edgehub serve' with --trust-dir DIR/online (written by 'edgehub keys init')");
    }

    private void Renew(TufRepository repo, string role, DateTimeOffset now) => repo.SetExpires(role, now + _lifetimes.Of(role));

    private bool Due(TufRepository repo, string role, DateTimeOffset now) => repo.ExpiresOf(role) - now < _lifetimes.Of(role) / 2;

    private async Task<PublishedVersions?> PublishAsync(string what, Func<TufRepository, DateTimeOffset, ReleaseRecord?> change, CancellationToken ct,
        Func<long, IReadOnlyList<DeviceAssignmentRecord>>? assignmentRows = null)
    {
        RequireKeys();
        await _gate.WaitAsync(ct);
        PublishedVersions? published;
        try
        {
            published = await _store.PublishTufAsync(current => Build(current, change, assignmentRows), ct);
        }
        catch (TufException e)
        {
            throw new ReleaseRejectedException(500, $"signing failed ({what}): {e.Message}", e);
        }
        finally
        {
            _gate.Release();
        }
        if (published is null) return null;
        _logger.LogInformation("Published {What}: timestamp v{Timestamp}, snapshot v{Snapshot}, targets v{Targets}, assignments v{Assignments}",
            what, published.Timestamp, published.Snapshot, published.Targets, published.Assignments);
        _hint?.Notify(published.Timestamp);
        return published;
    }

    /// <summary>Runs inside the store's publish transaction: CPU only, no awaits.</summary>
    private (TufPublication, PublishedVersions?) Build(IReadOnlyDictionary<string, TufMetadataFile> current,
        Func<TufRepository, DateTimeOffset, ReleaseRecord?> change, Func<long, IReadOnlyList<DeviceAssignmentRecord>>? assignmentRows)
    {
        var now = _time.GetUtcNow();
        var known = current.Values.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var (repo, fresh) = Open(current, now);
        long Before(string role) => fresh ? 0 : current[role].Version;
        // The change applies on top of a freshly bootstrapped repository too (a publication that reaches an
        // empty store before the start-up initialisation ran).
        var release = change(repo, now);
        bool anyTargets = repo.VersionOf("targets") != Before("targets") || repo.VersionOf(DeviceAssignmentLayout.RoleName) != Before(DeviceAssignmentLayout.RoleName);
        foreach (var role in new[] { "targets", DeviceAssignmentLayout.RoleName })
            if (repo.VersionOf(role) == Before(role) && Due(repo, role, now))
            {
                Renew(repo, role, now);
                repo.PublishTargets(role);
                anyTargets = true;
            }
        bool snapshot = anyTargets || Due(repo, "snapshot", now);
        bool timestamp = snapshot || Due(repo, "timestamp", now);
        if (!timestamp) return (TufPublication.Empty, null);
        if (snapshot)
        {
            Renew(repo, "snapshot", now);
            repo.PublishSnapshot();
        }
        Renew(repo, "timestamp", now);
        repo.PublishTimestamp();

        var metadata = new List<TufMetadataFile>();
        var targets = new List<TufTargetFile>();
        foreach (var (urlPath, content) in repo.Files)
        {
            if (urlPath.StartsWith("metadata/", StringComparison.Ordinal))
            {
                var name = urlPath["metadata/".Length..];
                var (role, version) = name == "timestamp.json" ? ("timestamp", repo.VersionOf("timestamp")) : ParseName(name);
                if (name == "timestamp.json") name = $"{version}.timestamp.json";
                if (known.Contains(name)) continue;
                metadata.Add(new TufMetadataFile(name, role, version, content, Sha(content), now));
            }
            else if (urlPath.StartsWith("targets/", StringComparison.Ordinal))
            {
                var u = urlPath["targets/".Length..];
                var target = TargetPathOf(u);
                targets.Add(new TufTargetFile(u, target, content, Sha(content), now));
            }
        }
        var versions = new PublishedVersions(repo.VersionOf("timestamp"), repo.VersionOf("snapshot"), repo.VersionOf("targets"), repo.VersionOf(DeviceAssignmentLayout.RoleName));
        var rows = assignmentRows?.Invoke(versions.Assignments);
        return (new TufPublication(metadata, targets, release, rows), versions);
    }

    /// <summary>The current repository, or a new one from the trust directory's root when the store holds none.</summary>
    private (TufRepository Repo, bool Fresh) Open(IReadOnlyDictionary<string, TufMetadataFile> current, DateTimeOffset now)
    {
        var keys = _keys!;
        if (!current.TryGetValue("timestamp", out _))
        {
            var repo = TufRepository.FromRoot(keys.Roots[0], keys.All, _time);
            foreach (var next in keys.Roots.Skip(1)) repo.ImportRoot(next);
            repo.Delegate("targets", new DelegationSpec(DeviceAssignmentLayout.RoleName, [keys.Keys["assignments"]], 1,
                Paths: [DeviceAssignmentLayout.PathPattern], Terminating: true));
            foreach (var role in new[] { "targets", DeviceAssignmentLayout.RoleName })
            {
                Renew(repo, role, now);
                repo.PublishTargets(role);
            }
            return (repo, true);
        }
        var byName = current.Values.ToDictionary(f => f.Role == "timestamp" ? "timestamp.json" : f.Name, f => f.Content, StringComparer.Ordinal);
        var loaded = TufRepository.Load(byName.GetValueOrDefault, current["root"].Version, keys.All, _time);
        // A rotation ceremony left newer roots in the trust directory: publish them, then re-sign every
        // role so the metadata is signed by whatever keys the newest root names.
        var rotated = false;
        foreach (var next in keys.Roots.Skip((int)current["root"].Version))
        {
            loaded.ImportRoot(next);
            rotated = true;
        }
        if (rotated)
            foreach (var role in new[] { "targets", DeviceAssignmentLayout.RoleName })
            {
                Renew(loaded, role, now);
                loaded.PublishTargets(role);
            }
        return (loaded, false);
    }

    private static (string Role, long Version) ParseName(string name)
    {
        // N.ROLE.json (role names may contain dots).
        var dot = name.IndexOf('.');
        return (Uri.UnescapeDataString(name[(dot + 1)..^".json".Length]), long.Parse(name[..dot], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The target path of a consistent-snapshot URL path: the hash prefix of the last segment removed.</summary>
    private static string TargetPathOf(string urlPath)
    {
        var slash = urlPath.LastIndexOf('/');
        var file = urlPath[(slash + 1)..];
        return urlPath[..(slash + 1)] + file[(file.IndexOf('.') + 1)..];
    }

    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));
}
