using System.Globalization;
using EdgeAgent.Trust.Json;

namespace EdgeAgent.Trust.Metadata;

/// <summary>Typed access to metadata fields with operator-readable errors naming the document and field.</summary>
internal static class Fields
{
    public static TufException Bad(string what, string message) => new(TufFailureKind.Malformed, $"{what}: {message}");

    public static CjObject Object(CjValue? v, string what, string field) =>
        v as CjObject ?? throw Bad(what, $"'{field}' must be a JSON object.");

    public static CjObject Object(CjObject o, string field, string what) => Object(o[field] ?? throw Missing(what, field), what, field);

    public static CjObject? OptionalObject(CjObject o, string field, string what) =>
        o[field] is null ? null : Object(o[field], what, field);

    public static string String(CjObject o, string field, string what) =>
        (o[field] ?? throw Missing(what, field)) is CjString s ? s.Value : throw Bad(what, $"'{field}' must be a string.");

    public static long Integer(CjObject o, string field, string what) =>
        (o[field] ?? throw Missing(what, field)) is CjInteger n ? n.Value : throw Bad(what, $"'{field}' must be an integer.");

    public static long? OptionalInteger(CjObject o, string field, string what) =>
        o[field] is null ? null : Integer(o, field, what);

    public static bool Bool(CjObject o, string field, string what) =>
        (o[field] ?? throw Missing(what, field)) is CjBool b ? b.Value : throw Bad(what, $"'{field}' must be true or false.");

    public static bool? OptionalBool(CjObject o, string field, string what) =>
        o[field] is null ? null : Bool(o, field, what);

    public static IReadOnlyList<CjValue> Array(CjObject o, string field, string what) =>
        (o[field] ?? throw Missing(what, field)) is CjArray a ? a.Items : throw Bad(what, $"'{field}' must be an array.");

    public static IReadOnlyList<string> StringArray(CjObject o, string field, string what) =>
        Array(o, field, what).Select(v => v is CjString s ? s.Value : throw Bad(what, $"'{field}' must hold strings only.")).ToArray();

    public static TufException Missing(string what, string field) => Bad(what, $"required field '{field}' is missing.");

    /// <summary>TUF §4.2: <c>expires</c> is ISO 8601 <c>YYYY-MM-DDTHH:MM:SSZ</c>, UTC.</summary>
    public static DateTimeOffset Expires(CjObject o, string what)
    {
        var text = String(o, "expires", what);
        if (!DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            throw Bad(what, $"'expires' must look like 2030-01-31T00:00:00Z, got '{text}'.");
        return t;
    }

    public static string FormatExpires(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static Dictionary<string, string> Hashes(CjObject o, string field, string what)
    {
        var obj = Object(o, field, what);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (alg, v) in obj.Members)
            result[alg] = v is CjString s ? s.Value : throw Bad(what, $"hash '{alg}' must be a hex string.");
        if (result.Count == 0) throw Bad(what, $"'{field}' must list at least one hash.");
        return result;
    }
}
