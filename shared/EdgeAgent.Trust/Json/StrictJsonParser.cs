using System.Text.Json;

namespace EdgeAgent.Trust.Json;

/// <summary>
/// Parses untrusted metadata bytes into <see cref="CjValue"/>. Refuses what canonical JSON cannot
/// sign unambiguously: duplicate object keys (two parsers could pick different values, a classic
/// signature-bypass trick), floats and exponents, integers beyond 64 bits, invalid UTF-8/UTF-16.
/// Thread safe (stateless).
/// </summary>
public static class StrictJsonParser
{
    private static readonly JsonDocumentOptions Options = new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 64,
    };

    /// <summary>Parses <paramref name="utf8"/>.</summary>
    /// <param name="what">Names the document in error messages (e.g. "snapshot.json").</param>
    /// <exception cref="TufException">Kind <see cref="TufFailureKind.Malformed"/>.</exception>
    public static CjValue Parse(ReadOnlyMemory<byte> utf8, string what)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8, Options);
            return Convert(doc.RootElement, what, "$");
        }
        catch (JsonException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} is not valid JSON for TUF (duplicate keys are refused): {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} contains an invalid string: {e.Message}", e);
        }
    }

    private static CjValue Convert(JsonElement e, string what, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<KeyValuePair<string, CjValue>>();
                foreach (var p in e.EnumerateObject())
                    members.Add(new(p.Name, Convert(p.Value, what, path + "." + p.Name)));
                return new CjObject(members);
            case JsonValueKind.Array:
                var items = new List<CjValue>();
                var i = 0;
                foreach (var item in e.EnumerateArray()) items.Add(Convert(item, what, $"{path}[{i++}]"));
                return new CjArray(items);
            case JsonValueKind.String:
                return new CjString(e.GetString()!);
            case JsonValueKind.Number:
                var raw = e.GetRawText();
                if (raw.AsSpan().IndexOfAny('.', 'e', 'E') >= 0)
                    throw new TufException(TufFailureKind.Malformed, $"{what} has a floating point number at {path} ({raw}); canonical JSON allows integers only.");
                if (!e.TryGetInt64(out var n))
                    throw new TufException(TufFailureKind.Malformed, $"{what} has an integer out of 64-bit range at {path}.");
                return new CjInteger(n);
            case JsonValueKind.True:
                return CjBool.True;
            case JsonValueKind.False:
                return CjBool.False;
            case JsonValueKind.Null:
                return CjNull.Instance;
            default:
                throw new TufException(TufFailureKind.Malformed, $"{what} has an unsupported JSON value at {path}.");
        }
    }
}
