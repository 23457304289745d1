using System.CommandLine;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Trust;
using EdgeAgent.Trust.Metadata;
using EdgeAgent.Trust.Repository;

namespace EdgeAgent.Hub.Cli;

/// <summary>
/// <c>edgehub keys init</c> (the key ceremony) and <c>edgehub keys rotate-root</c> (sign the next root with
/// the offline keys, optionally with new online keys). Both refuse to overwrite a key; errors are one line.
/// </summary>
public static class KeysCommands
{
    public static Command Keys()
    {
        var keys = new Command("keys", "TUF signing keys of the release repository (Releases/README.md)");
        keys.Subcommands.Add(Init());
        keys.Subcommands.Add(RotateRoot());
        return keys;
    }

    private static Command Init()
    {
        var output = new Option<string>("--out") { Description = "directory to create: OUT/offline (root keys: move it away) and OUT/online (for serve --trust-dir)", Required = true };
        var rootKeys = new Option<int>("--root-keys") { Description = "number of root keys", DefaultValueFactory = _ => 1 };
        var threshold = new Option<int>("--root-threshold") { Description = "root keys needed to sign a new root", DefaultValueFactory = _ => 1 };
        var expires = new Option<int>("--expires-days") { Description = "validity of root.json v1 in days", DefaultValueFactory = _ => 365 };
        var cmd = new Command("init", "Create root keys (offline), online keys and the signed root.json v1") { output, rootKeys, threshold, expires };
        HubCli.SetAction(cmd, (p, ct) =>
        {
            var result = Run(() => KeyCeremony.Init(p.GetValue(output)!, new KeyInitOptions(p.GetValue(rootKeys), p.GetValue(threshold), p.GetValue(expires))));
            Console.WriteLine($"root.json v1: {result.RootFile} (expires {result.RootExpires:yyyy-MM-ddTHH:mm:ssZ}); give it to devices as their trusted root");
            Console.WriteLine($"root keys ({result.RootKeyIds.Count}, threshold {p.GetValue(threshold)}): {result.OfflineDirectory}");
            foreach (var id in result.RootKeyIds) Console.WriteLine($"  root       {id}");
            Console.WriteLine($"online keys: {result.OnlineDirectory} (edgehub serve --trust-dir {result.OnlineDirectory})");
            foreach (var (role, id) in result.OnlineKeyIds) Console.WriteLine($"  {role,-10} {id}");
            Console.WriteLine($"Move {result.OfflineDirectory} to offline storage now: the hub never needs it, only a root rotation does.");
            return Task.FromResult(HubCli.Ok);
        });
        return cmd;
    }

    private static Command RotateRoot()
    {
        var offline = new Option<string>("--offline") { Description = "the offline directory (root-N.pem keys)", Required = true };
        var online = new Option<string>("--online") { Description = "the online directory the hub serves with (--trust-dir)", Required = true };
        var rotate = new Option<string[]>("--rotate") { Description = "online roles whose key is replaced: targets, snapshot, timestamp", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        var expires = new Option<int>("--expires-days") { Description = "validity of the new root in days", DefaultValueFactory = _ => 365 };
        var cmd = new Command("rotate-root", "Sign the next root.json with the offline root keys (new expiry, optionally new online keys); restart the hub to publish it")
            { offline, online, rotate, expires };
        HubCli.SetAction(cmd, (p, ct) =>
        {
            var written = Run(() => RootRotation.Rotate(p.GetValue(offline)!, p.GetValue(online)!, p.GetValue(rotate)!, p.GetValue(expires), TimeProvider.System));
            Console.WriteLine($"wrote {written}; restart 'edgehub serve --trust-dir {p.GetValue(online)}' to publish it (metadata is re-signed with the keys it names)");
            return Task.FromResult(HubCli.Ok);
        });
        return cmd;
    }

    private static T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (TrustKeyException e)
        {
            throw new CliUsageException(e.Message);
        }
        catch (TufException e)
        {
            throw new CliUsageException(e.Message);
        }
    }
}

/// <summary>
/// Signs root version N+1 offline: every <c>root-*.pem</c> of the offline directory signs (the old and the
/// new root list the same root keys, so both thresholds are met); named online roles get new keys, written
/// beside the old ones' replacement atomically (new file, then rename). Writes <c>N+1.root.json</c> to both
/// directories. Not thread safe (an operator step).
/// </summary>
public static class RootRotation
{
    public static string Rotate(string offlineDirectory, string onlineDirectory, IReadOnlyList<string> rotateRoles, int expiresDays, TimeProvider time)
    {
        foreach (var role in rotateRoles)
            if (role is not ("targets" or "snapshot" or "timestamp"))
                throw new TrustKeyException($"--rotate '{role}': only targets, snapshot and timestamp keys are rotated here (root keys stay; assignments is delegated by targets)");
        if (expiresDays is < 1 or > 3650) throw new TrustKeyException($"--expires-days {expiresDays} must be between 1 and 3650");
        if (!Directory.Exists(offlineDirectory)) throw new TrustKeyException($"offline directory '{offlineDirectory}' does not exist");
        var rootKeyFiles = Directory.EnumerateFiles(offlineDirectory, "root-*.pem").Order(StringComparer.Ordinal).ToList();
        if (rootKeyFiles.Count == 0) throw new TrustKeyException($"'{offlineDirectory}' holds no root-N.pem; it is not the offline directory of 'edgehub keys init'");
        using var current = OnlineTrustKeys.Load(onlineDirectory);
        var rootKeys = rootKeyFiles.Select(f => SigningKey.FromPrivateKeyPem(File.ReadAllText(f))).ToList();
        try
        {
            var latest = current.Roots[^1];
            var repo = TufRepository.FromRoot(latest, rootKeys, time);
            var version = repo.VersionOf("root") + 1;
            var newKeys = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
            foreach (var role in rotateRoles.Distinct()) newKeys[role] = repo.RotateKeys(role);
            repo.SetExpires("root", time.GetUtcNow().AddDays(expiresDays));
            var bytes = repo.PublishRoot();
            var name = TrustKeyLayout.RootFile(version);
            // New keys first (temp + rename, 0600), then the root naming them: a crash in between leaves
            // keys the current root does not list, which the hub refuses with a clear message.
            foreach (var (role, key) in newKeys)
            {
                var target = Path.Combine(onlineDirectory, TrustKeyLayout.OnlineKeyFile(role));
                var temp = target + ".new";
                File.Delete(temp);
                TrustKeyLayout.WritePrivate(temp, key.ExportPrivateKeyPem());
                File.Move(temp, target, overwrite: true);
                key.Dispose();
            }
            TrustKeyLayout.WritePublic(Path.Combine(offlineDirectory, name), bytes);
            TrustKeyLayout.WritePublic(Path.Combine(onlineDirectory, name), bytes);
            return Path.Combine(onlineDirectory, name);
        }
        finally
        {
            foreach (var k in rootKeys) k.Dispose();
        }
    }
}
