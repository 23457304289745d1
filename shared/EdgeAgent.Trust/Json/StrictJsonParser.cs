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
        var context = new Context(what);
        try
        {
            var reader = new Utf8JsonReader(utf8.Span, Options);
            if (!reader.Read()) throw new TufException(TufFailureKind.Malformed, $"{what} is empty.");
            var value = ReadValue(ref reader, context);
            if (reader.Read()) throw new TufException(TufFailureKind.Malformed, $"{what} has content after the JSON document.");
            return value;
        }
        catch (JsonException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new TufException(TufFailureKind.Malformed, $"{what} contains an invalid string at {context.Path()}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Per-parse scratch: one member stack and one item stack shared by all nesting levels (so an
    /// object costs one exact-size array, not a growing list), and the current path, turned into a
    /// string only for an error message.
    /// </summary>
    private sealed class Context(string what)
    {
        public readonly string What = what;
        public readonly List<KeyValuePair<string, CjValue>> Members = new(64);
        public readonly List<CjValue> Items = new(64);
        public readonly List<(string? Name, int Index)> PathStack = new(16);

        public string Path() => "$" + string.Concat(PathStack.Select(p => p.Name is null ? $"[{p.Index}]" : "." + p.Name));

        public TufException Error(string message) => new(TufFailureKind.Malformed, $"{What} {message} at {Path()}.");
    }

    private static CjValue ReadValue(ref Utf8JsonReader reader, Context c)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var start = c.Members.Count;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = reader.GetString()!;
                    for (var i = start; i < c.Members.Count; i++)
                        if (string.Equals(c.Members[i].Key, name, StringComparison.Ordinal))
                            throw c.Error($"has a duplicate key '{name}' (duplicate keys are refused)");
                    reader.Read();
                    c.PathStack.Add((name, 0));
                    var value = ReadValue(ref reader, c);
                    c.PathStack.RemoveAt(c.PathStack.Count - 1);
                    c.Members.Add(new(name, value));
                }
                var members = new KeyValuePair<string, CjValue>[c.Members.Count - start];
                c.Members.CopyTo(start, members, 0, members.Length);
                c.Members.RemoveRange(start, members.Length);
                return new CjObject(members, trusted: true);
            }
            case JsonTokenType.StartArray:
            {
                var start = c.Items.Count;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    c.PathStack.Add((null, c.Items.Count - start));
                    var item = ReadValue(ref reader, c);
                    c.PathStack.RemoveAt(c.PathStack.Count - 1);
                    c.Items.Add(item);
                }
                var items = c.Items.GetRange(start, c.Items.Count - start);
                c.Items.RemoveRange(start, items.Count);
                return new CjArray(items);
            }
            case JsonTokenType.String:
                return new CjString(reader.GetString()!);
            case JsonTokenType.Number:
                if (reader.ValueSpan.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0)
                    throw c.Error("has a floating point number (canonical JSON allows integers only)");
                if (!reader.TryGetInt64(out var n))
                    throw c.Error("has an integer out of 64-bit range");
                return new CjInteger(n);
            case JsonTokenType.True:
                return CjBool.True;
            case JsonTokenType.False:
                return CjBool.False;
            case JsonTokenType.Null:
                return CjNull.Instance;
            default:
                throw c.Error($"has an unexpected {reader.TokenType}");
        }
    }
}
