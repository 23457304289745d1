using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Trust.Json;

namespace EdgeAgent.Trust.Metadata;

/// <summary>One target as a targets role lists it (TUF §4.5 TARGETPATH). Immutable.</summary>
public sealed class TargetFile
{
    internal TargetFile(string path, CjObject json, string what)
    {
        Path = path;
        Json = json;
        Length = Fields.Integer(json, "length", what);
        if (Length < 0) throw Fields.Bad(what, "'length' must not be negative.");
        Hashes = Fields.Hashes(json, "hashes", what);
        Custom = json["custom"];
    }

    /// <summary>The target path (the key in <c>targets</c>), e.g. <c>models/kws/3.bundle</c>.</summary>
    public string Path { get; }
    public long Length { get; }
    public IReadOnlyDictionary<string, string> Hashes { get; }

    /// <summary>The opaque <c>custom</c> value, or null. Verified like the rest of the role.</summary>
    public CjValue? Custom { get; }

    /// <summary>The target entry as signed.</summary>
    public CjObject Json { get; }
}

/// <summary>A delegation from a targets role to another (TUF §4.5 DELEGATIONS roles[]).</summary>
public sealed class DelegatedRole
{
    internal DelegatedRole(CjObject o, string what)
    {
        Name = Fields.String(o, "name", what);
        what = $"{what} '{Name}'";
        Keys = RoleKeys.Parse(o, what);
        Terminating = Fields.Bool(o, "terminating", what);
        if (o["paths"] is not null) Paths = Fields.StringArray(o, "paths", what);
        if (o["path_hash_prefixes"] is not null) PathHashPrefixes = Fields.StringArray(o, "path_hash_prefixes", what);
        if ((Paths is null) == (PathHashPrefixes is null))
            throw Fields.Bad(what, "a delegated role needs exactly one of 'paths' or 'path_hash_prefixes'.");
    }

    public string Name { get; }
    public RoleKeys Keys { get; }
    public bool Terminating { get; }
    public IReadOnlyList<string>? Paths { get; }
    public IReadOnlyList<string>? PathHashPrefixes { get; }

    /// <summary>Whether this delegation covers <paramref name="targetPath"/> (TUF §4.5, python-tuf semantics).</summary>
    public bool IsTrustedFor(string targetPath)
    {
        if (Paths is not null) return Paths.Any(p => PathPattern.Matches(p, targetPath));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(targetPath)));
        return PathHashPrefixes!.Any(prefix => hash.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>The <c>delegations</c> object of a targets role (ordered roles, their keys).</summary>
public sealed class Delegations
{
    internal Delegations(CjObject o, string what)
    {
        if (o["succinct_roles"] is not null)
            throw Fields.Bad(what, "'succinct_roles' (TAP 15) delegations are not supported by this client.");
        var keys = new Dictionary<string, TufKey>(StringComparer.Ordinal);
        foreach (var (id, k) in Fields.Object(o, "keys", what).Members)
            keys[id] = TufKey.FromJson(Fields.Object(k, what, "keys." + id), $"{what} key {id}");
        Keys = keys;
        var roles = new List<DelegatedRole>();
        foreach (var r in Fields.Array(o, "roles", what))
            roles.Add(new DelegatedRole(Fields.Object(r, what, "roles[]"), what + " role"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in roles)
        {
            if (!names.Add(r.Name)) throw Fields.Bad(what, $"delegated role '{r.Name}' is listed twice.");
            if (RootMetadata.TopLevelRoles.Contains(r.Name)) throw Fields.Bad(what, $"a delegated role may not be named '{r.Name}' (a top-level role).");
        }
        Roles = roles;
    }

    public IReadOnlyDictionary<string, TufKey> Keys { get; }

    /// <summary>In priority order, as listed.</summary>
    public IReadOnlyList<DelegatedRole> Roles { get; }
}

/// <summary>targets.json and delegated targets roles (TUF §4.5).</summary>
public sealed class TargetsMetadata : RoleMetadata
{
    public TargetsMetadata(CjObject json, string what) : base(json, "targets", what)
    {
        var targets = new Dictionary<string, TargetFile>(StringComparer.Ordinal);
        foreach (var (path, t) in Fields.Object(json, "targets", what).Members)
            targets[path] = new TargetFile(path, Fields.Object(t, what, "targets." + path), $"{what} target '{path}'");
        Targets = targets;
        if (Fields.OptionalObject(json, "delegations", what) is { } d) Delegations = new Delegations(d, what + " delegations");
    }

    public IReadOnlyDictionary<string, TargetFile> Targets { get; }
    public Delegations? Delegations { get; }
}

/// <summary>
/// Delegation path patterns (TUF §4.5 "paths"): shell-style per path segment, so <c>*</c> and
/// <c>?</c> never cross a <c>/</c>; pattern and path must have the same number of segments
/// (python-tuf <c>_is_target_in_pathpattern</c>). Supports <c>*</c>, <c>?</c>, <c>[seq]</c>, <c>[!seq]</c>.
/// </summary>
public static class PathPattern
{
    public static bool Matches(string pattern, string path)
    {
        var patternParts = pattern.Split('/');
        var pathParts = path.Split('/');
        if (patternParts.Length != pathParts.Length) return false;
        for (var i = 0; i < patternParts.Length; i++)
            if (!SegmentMatches(patternParts[i], pathParts[i])) return false;
        return true;
    }

    private static bool SegmentMatches(ReadOnlySpan<char> p, ReadOnlySpan<char> s)
    {
        // Iterative glob with backtracking to the last '*'.
        int pi = 0, si = 0, starP = -1, starS = 0;
        while (si < s.Length)
        {
            if (pi < p.Length && p[pi] == '*') { starP = pi++; starS = si; continue; }
            if (pi < p.Length && TryMatchOne(p, ref pi, s[si], out var next) && next) { si++; continue; }
            if (starP >= 0) { pi = starP + 1; si = ++starS; continue; }
            return false;
        }
        while (pi < p.Length && p[pi] == '*') pi++;
        return pi == p.Length;
    }

    /// <summary>Matches one pattern element at <paramref name="pi"/> against <paramref name="c"/>, advancing pi on success.</summary>
    private static bool TryMatchOne(ReadOnlySpan<char> p, ref int pi, char c, out bool matched)
    {
        matched = false;
        if (p[pi] == '?') { pi++; matched = true; return true; }
        if (p[pi] == '[')
        {
            var end = p[(pi + 1)..].IndexOf(']');
            // fnmatch: a ']' right after '[' or '[!' is literal; keep it simple and treat an
            // unterminated '[' as a literal character.
            if (end >= 0)
            {
                var set = p.Slice(pi + 1, end);
                var negate = set.Length > 0 && set[0] == '!';
                if (negate) set = set[1..];
                var inSet = false;
                for (var i = 0; i < set.Length; i++)
                {
                    if (i + 2 < set.Length && set[i + 1] == '-') { if (c >= set[i] && c <= set[i + 2]) inSet = true; i += 2; }
                    else if (set[i] == c) inSet = true;
                }
                if (inSet != negate) { pi += end + 2; matched = true; }
                return true;
            }
        }
        if (p[pi] == c) { pi++; matched = true; }
        return true;
    }
}
