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
/// encoder sorts keys by code point (= UTF-8 byte order, as Python sorts). Members live in one
/// array (metadata objects are small); a dictionary is built only for large objects.
/// </summary>
public sealed class CjObject : CjValue
{
    private const int LinearLookupLimit = 8;
    private readonly KeyValuePair<string, CjValue>[] _members;
    private Dictionary<string, CjValue>? _index;
    private string[]? _sortedKeys;

    /// <exception cref="ArgumentException">A key appears twice.</exception>
    public CjObject(IEnumerable<KeyValuePair<string, CjValue>> members)
    {
        _members = members.ToArray();
        if (IndexOfDuplicate(_members, _members.Length) is { } dup)
            throw new ArgumentException($"Duplicate JSON object key '{dup}'.", nameof(members));
    }

    /// <summary>Takes ownership of <paramref name="members"/>, already checked for duplicates.</summary>
    internal CjObject(KeyValuePair<string, CjValue>[] members, bool trusted)
    {
        _ = trusted;
        _members = members;
    }

    public static CjObject Empty { get; } = new([], trusted: true);

    public int Count => _members.Length;
    public IEnumerable<string> Keys => _members.Select(m => m.Key);
    public IEnumerable<KeyValuePair<string, CjValue>> Members => _members;
    public CjValue? this[string key] => TryGet(key, out var v) ? v : null;
    public bool ContainsKey(string key) => TryGet(key, out _);

    public bool TryGet(string key, out CjValue value)
    {
        if (_members.Length <= LinearLookupLimit)
        {
            foreach (var m in _members)
                if (string.Equals(m.Key, key, StringComparison.Ordinal)) { value = m.Value; return true; }
            value = null!;
            return false;
        }
        _index ??= _members.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        return _index.TryGetValue(key, out value!);
    }

    /// <summary>A copy with <paramref name="key"/> set (replaced or appended).</summary>
    public CjObject With(string key, CjValue value)
    {
        var list = _members.Where(m => m.Key != key).ToList();
        list.Add(new(key, value));
        return new CjObject(list.ToArray(), trusted: true);
    }

    /// <summary>A copy without <paramref name="key"/>.</summary>
    public CjObject Without(string key) => new(_members.Where(m => m.Key != key).ToArray(), trusted: true);

    /// <summary>Keys in canonical order, computed once (the object is immutable).</summary>
    internal string[] SortedKeys
    {
        get
        {
            if (_sortedKeys is not null) return _sortedKeys;
            var keys = new string[_members.Length];
            for (var i = 0; i < keys.Length; i++) keys[i] = _members[i].Key;
            Array.Sort(keys, CodePointComparer.Instance);
            return _sortedKeys = keys;
        }
    }

    /// <summary>The first key of <paramref name="members"/>[0..count) that occurs twice, or null.</summary>
    internal static string? IndexOfDuplicate(KeyValuePair<string, CjValue>[] members, int count)
    {
        if (count <= 16)
        {
            for (var i = 1; i < count; i++)
                for (var j = 0; j < i; j++)
                    if (string.Equals(members[i].Key, members[j].Key, StringComparison.Ordinal)) return members[i].Key;
            return null;
        }
        var seen = new HashSet<string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
            if (!seen.Add(members[i].Key)) return members[i].Key;
        return null;
    }
}

/// <summary>
/// Orders strings by Unicode code point, which is what Python's sort (and UTF-8 byte order)
/// gives. UTF-16 ordinal order agrees except when a surrogate (a character above U+FFFF) meets a
/// character in U+E000..U+FFFF: the surrogate must sort after it.
/// </summary>
internal sealed class CodePointComparer : IComparer<string>
{
    public static readonly CodePointComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        var a = x.AsSpan();
        var b = y.AsSpan();
        var i = a.CommonPrefixLength(b);
        if (i == a.Length || i == b.Length) return a.Length - b.Length;
        int ca = a[i], cb = b[i];
        var sa = char.IsSurrogate(a[i]);
        var sb = char.IsSurrogate(b[i]);
        if (sa && !sb && cb >= 0xE000) return 1;
        if (sb && !sa && ca >= 0xE000) return -1;
        return ca - cb;
    }
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
