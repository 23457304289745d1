using System.Text.Json;

namespace EdgeAgent.Trust.Json;

/// <summary>
/// Parses untrusted metadata bytes into <see cref="CjValue"/> in one pass over a
/// <see cref="Utf8JsonReader"/>. Refuses what canonical JSON cannot sign unambiguously: duplicate
/// object keys (two parsers could pick different values, a classic signature-bypass trick),
/// floats and exponents, integers beyond 64 bits, invalid UTF-8/UTF-16, comments, trailing commas
/// and trailing content. Thread safe (stateless).
/// </summary>
public static class StrictJsonParser
{
    private static readonly JsonReaderOptions Options = new()
    {
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
            var reader = new Utf8JsonReader(utf8.Span, Options);
            if (!reader.Read()) throw new TufException(TufFailureKind.Malformed, $"{what} is empty.");
            var value = ReadValue(ref reader, what, "$");
            if (reader.Read()) throw new TufException(TufFailureKind.Malformed, $"{what} has content after the JSON document.");
            return value;
        }
        catch (JsonException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} contains an invalid string: {e.Message}", e);
        }
    }

    private static CjValue ReadValue(ref Utf8JsonReader reader, string what, string path)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var members = new List<KeyValuePair<string, CjValue>>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = reader.GetString()!;
                    if (!seen.Add(name))
                        throw new TufException(TufFailureKind.Malformed, $"{what} has a duplicate key '{name}' in {path}; duplicate keys are refused.");
                    reader.Read();
                    members.Add(new(name, ReadValue(ref reader, what, path + "." + name)));
                }
                return new CjObject(members);
            case JsonTokenType.StartArray:
                var items = new List<CjValue>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, what, $"{path}[{items.Count}]"));
                return new CjArray(items);
            case JsonTokenType.String:
                return new CjString(reader.GetString()!);
            case JsonTokenType.Number:
                if (reader.ValueSpan.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0)
                    throw new TufException(TufFailureKind.Malformed, $"{what} has a floating point number at {path}; canonical JSON allows integers only.");
                if (!reader.TryGetInt64(out var n))
                    throw new TufException(TufFailureKind.Malformed, $"{what} has an integer out of 64-bit range at {path}.");
                return new CjInteger(n);
            case JsonTokenType.True:
                return CjBool.True;
            case JsonTokenType.False:
                return CjBool.False;
            case JsonTokenType.Null:
                return CjNull.Instance;
            default:
                throw new TufException(TufFailureKind.Malformed, $"{what} has an unexpected {reader.TokenType} at {path}.");
        }
    }
}
