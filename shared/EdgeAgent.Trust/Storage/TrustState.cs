using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgeAgent.Trust.Storage;

/// <summary>
/// What the client has already trusted, kept apart from the metadata files so that deleting or
/// replacing a file cannot re-admit older metadata: the highest root, timestamp and snapshot
/// versions, the highest version of every targets role listed by snapshot, and a time floor
/// (the latest clock reading seen at the start of any refresh). The effective "now" of an update is
/// max(clock, floor), so a clock reset to 1970 cannot make expired metadata valid again.
/// Stored as a small text file (<see cref="FileName"/>, deliberately not <c>.json</c>) with a
/// SHA-256 trailer; a missing or damaged file fails closed. Immutable.
/// </summary>
public sealed record TrustState(
    long RootVersion,
    long TimestampVersion,
    long SnapshotVersion,
    IReadOnlyDictionary<string, long> RoleVersions,
    DateTimeOffset TimeFloor)
{
    /// <summary>The state file name inside the metadata directory.</summary>
    public const string FileName = "trust-state.v1";

    private const string Magic = "edgeagent-tuf-state 1";

    /// <summary>The operator action that recovers from a lost or damaged state.</summary>
    public const string RecoveryHint =
        "Recover by re-initialising from a root.json obtained through a trusted channel: `edgeagent tuf --metadata-dir DIR init ROOT.json`.";

    public static TrustState Initial(long rootVersion, DateTimeOffset floor) =>
        new(rootVersion, 0, 0, new Dictionary<string, long>(StringComparer.Ordinal), floor);

    /// <summary>Effective reference time: never earlier than the floor.</summary>
    public DateTimeOffset EffectiveNow(DateTimeOffset clock) => clock > TimeFloor ? clock : TimeFloor;

    public static string PathIn(string metadataDirectory) => Path.Combine(metadataDirectory, FileName);

    /// <summary>Loads the state; throws <see cref="TufFailureKind.State"/> when missing or corrupt.</summary>
    public static TrustState Load(string metadataDirectory)
    {
        var path = PathIn(metadataDirectory);
        if (!File.Exists(path))
            throw new TufException(TufFailureKind.State, $"Trust state file '{path}' is missing, so rollback and freeze protection cannot be guaranteed; refusing to update. {RecoveryHint}");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length > 1 << 20) throw Corrupt(path, "file is implausibly large");
        return Parse(bytes, path);
    }

    /// <summary>Parses and checks a state file's bytes; <paramref name="path"/> names it in errors.</summary>
    public static TrustState Parse(byte[] bytes, string path)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var cut = text.LastIndexOf("sha256 ", StringComparison.Ordinal);
        if (cut < 0 || (cut > 0 && text[cut - 1] != '\n')) throw Corrupt(path, "checksum line missing");
        var body = text[..cut];
        var expected = text[(cut + 7)..].TrimEnd('\n');
        var actual = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        if (!string.Equals(expected, actual, StringComparison.Ordinal)) throw Corrupt(path, "checksum does not match the content");

        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || lines[0] != Magic) throw Corrupt(path, "unknown format header");
        long root = -1, ts = -1, snap = -1, floor = long.MinValue;
        var roles = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Split(' ');
            switch (parts)
            {
                case ["root", var v]: root = Num(v); break;
                case ["timestamp", var v]: ts = Num(v); break;
                case ["snapshot", var v]: snap = Num(v); break;
                case ["floor", var v]: floor = Num(v); break;
                case ["role", var name, var v]: roles[Uri.UnescapeDataString(name)] = Num(v); break;
                default: throw Corrupt(path, $"unexpected line '{line}'");
            }
        }
        if (root < 1 || ts < 0 || snap < 0 || floor == long.MinValue) throw Corrupt(path, "a required entry is missing");
        return new TrustState(root, ts, snap, roles, DateTimeOffset.FromUnixTimeSeconds(floor));

        long Num(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw Corrupt(path, $"'{s}' is not a number");
    }

    private static TufException Corrupt(string path, string why) =>
        new(TufFailureKind.State, $"Trust state file '{path}' is corrupt ({why}); refusing to update. {RecoveryHint}");

    /// <summary>Serialises with the checksum trailer.</summary>
    public byte[] ToBytes()
    {
        var sb = new StringBuilder();
        sb.Append(Magic).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"floor {TimeFloor.ToUnixTimeSeconds()}\n");
        sb.Append(CultureInfo.InvariantCulture, $"root {RootVersion}\n");
        sb.Append(CultureInfo.InvariantCulture, $"timestamp {TimestampVersion}\n");
        sb.Append(CultureInfo.InvariantCulture, $"snapshot {SnapshotVersion}\n");
        foreach (var (name, v) in RoleVersions.OrderBy(r => r.Key, StringComparer.Ordinal))
            sb.Append(CultureInfo.InvariantCulture, $"role {Uri.EscapeDataString(name)} {v}\n");
        var body = sb.ToString();
        var sum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        return Encoding.UTF8.GetBytes(body + "sha256 " + sum + "\n");
    }

    public Task SaveAsync(string metadataDirectory, CancellationToken cancellationToken) =>
        DurableFile.WriteAsync(PathIn(metadataDirectory), ToBytes(), cancellationToken);
}
