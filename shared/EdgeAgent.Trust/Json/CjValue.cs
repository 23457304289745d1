using System.Text;

namespace EdgeAgent.Trust.Json;

/// <summary>
/// A JSON value restricted to what canonical JSON (securesystemslib <c>formats.encode_canonical</c>)
/// can represent: objects, arrays, strings, integers, booleans and null. Floats do not exist in this
/// model, so metadata containing them cannot even be loaded. Values are immutable once built.
/// </summary>
public abstract class CjValue
{
    private protected CjValue() { }

    /// <summary>The canonical encoding of this value (sorted keys, no whitespace, minimal escaping).</summary>
    public byte[] ToCanonicalBytes() => CanonicalJsonEncoder.Encode(this);

    /// <summary>Valid strict JSON with sorted keys (control characters escaped): how metadata files are written.</summary>
    public byte[] ToJsonBytes() => CanonicalJsonEncoder.EncodeAsJson(this);

    /// <summary>The canonical encoding as a string (for diagnostics and tests).</summary>
    public override string ToString() => Encoding.UTF8.GetString(ToCanonicalBytes());
}

/// <summary>A JSON string.</summary>
public sealed class CjString(string value) : CjValue
{
    public string Value { get; } = value;
}

/// <summary>A JSON integer (canonical JSON has no floats).</summary>
public sealed class CjInteger(long value) : CjValue
{
    public long Value { get; } = value;
}

/// <summary>JSON <c>true</c> / <c>false</c>.</summary>
public sealed class CjBool : CjValue
{
    public static readonly CjBool True = new(true);
    public static readonly CjBool False = new(false);
    private CjBool(bool value) => Value = value;
    public bool Value { get; }
    public static CjBool Of(bool value) => value ? True : False;
}

/// <summary>JSON <c>null</c>.</summary>
public sealed class CjNull : CjValue
{
    public static readonly CjNull Instance = new();
    private CjNull() { }
}

/// <summary>A JSON array.</summary>
public sealed class CjArray : CjValue
{
    public CjArray(IEnumerable<CjValue> items) => Items = items.ToArray();
    public IReadOnlyList<CjValue> Items { get; }
}

/// <summary>
/// A JSON object with unique keys. Insertion order is kept for readability; the canonical
/// encoder sorts keys by their UTF-8 bytes (equal to code point order, as Python sorts).
/// </summary>
public sealed class CjObject : CjValue
{
    private readonly Dictionary<string, CjValue> _members;
    private readonly List<string> _order;

    public CjObject(IEnumerable<KeyValuePair<string, CjValue>> members)
    {
        _members = new Dictionary<string, CjValue>(StringComparer.Ordinal);
        _order = new List<string>();
        foreach (var (key, value) in members)
        {
            if (!_members.TryAdd(key, value))
                throw new ArgumentException($"Duplicate JSON object key '{key}'.", nameof(members));
            _order.Add(key);
        }
    }

    public static CjObject Empty { get; } = new(Array.Empty<KeyValuePair<string, CjValue>>());

    private (byte[] Utf8, string Key)[]? _sortedKeys;

    /// <summary>Keys with their UTF-8 bytes in canonical order, computed once (the object is immutable).</summary>
    internal (byte[] Utf8, string Key)[] SortedKeys => _sortedKeys ??= CanonicalJsonEncoder.SortKeys(this);

    public int Count => _order.Count;
    public IEnumerable<string> Keys => _order;
    public IEnumerable<KeyValuePair<string, CjValue>> Members => _order.Select(k => new KeyValuePair<string, CjValue>(k, _members[k]));
    public CjValue? this[string key] => _members.GetValueOrDefault(key);
    public bool ContainsKey(string key) => _members.ContainsKey(key);
    public bool TryGet(string key, out CjValue value) => _members.TryGetValue(key, out value!);

    /// <summary>A copy with <paramref name="key"/> set (replaced or appended).</summary>
    public CjObject With(string key, CjValue value)
    {
        var list = Members.Where(m => m.Key != key).ToList();
        list.Add(new(key, value));
        return new CjObject(list);
    }

    /// <summary>A copy without <paramref name="key"/>.</summary>
    public CjObject Without(string key) => new(Members.Where(m => m.Key != key));
}

/// <summary>Small factory so repository code reads like the JSON it builds.</summary>
public static class Cj
{
    public static CjString Str(string s) => new(s);
    public static CjInteger Int(long n) => new(n);
    public static CjBool Bool(bool b) => CjBool.Of(b);
    public static CjArray Arr(IEnumerable<CjValue> items) => new(items);
    public static CjObject Obj(params (string Key, CjValue? Value)[] members) =>
        new(members.Where(m => m.Value is not null).Select(m => new KeyValuePair<string, CjValue>(m.Key, m.Value!)));
    public static CjObject Obj(IEnumerable<KeyValuePair<string, CjValue>> members) => new(members);
}
