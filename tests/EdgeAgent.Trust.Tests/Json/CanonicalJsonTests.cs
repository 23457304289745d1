using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Trust.Tests.Json;

/// <summary>Canonical JSON as securesystemslib <c>encode_canonical</c> produces it.</summary>
public sealed class CanonicalJsonTests
{
    private static string Canon(string json) => Encoding.UTF8.GetString(StrictJsonParser.Parse(Encoding.UTF8.GetBytes(json), "test").ToCanonicalBytes());

    [Fact]
    public void Keys_are_sorted_and_whitespace_removed()
    {
        Assert.Equal("{\"Z\":{},\"a\":[1,\"b\",true,null,false],\"b\":-7}", Canon("{ \"b\" : -7, \"a\": [1, \"b\", true, null, false], \"Z\": {} }"));
    }

    [Fact]
    public void Only_backslash_and_quote_are_escaped()
    {
        Assert.Equal("[\"a\\\\b\\\"c\"]", Canon("[\"a\\\\b\\\"c\"]"));
    }

    [Fact]
    public void Control_characters_and_non_ascii_stay_raw_utf8()
    {
        var bytes = StrictJsonParser.Parse(Encoding.UTF8.GetBytes("[\"line1\\nline2\\t\\u0001 \\u00e9 \\ud83d\\ude00 /\"]"), "test").ToCanonicalBytes();
        var expected = Encoding.UTF8.GetBytes("[\"line1\nline2\t\u0001 é 😀 /\"]");
        Assert.Equal(expected, bytes);
        Assert.Contains((byte)0x0A, bytes);
    }

    [Fact]
    public void Keys_sort_by_code_point_not_by_utf16_unit()
    {
        // U+FFFD sorts before U+1F600 by code point; as UTF-16 units the surrogate D83D would come first.
        var obj = Cj.Obj(("\U0001F600", Cj.Int(1)), ("\uFFFD", Cj.Int(2)), ("é", Cj.Int(3)), ("e", Cj.Int(4)), ("E", Cj.Int(5)));
        Assert.Equal("{\"E\":5,\"e\":4,\"é\":3,\"\uFFFD\":2,\"\U0001F600\":1}", obj.ToString());
    }

    [Fact]
    public void Json_file_form_escapes_control_characters_and_parses_back_to_the_same_canonical_bytes()
    {
        var obj = Cj.Obj(("pem", Cj.Str("-----BEGIN-----\nABC\n-----END-----\n")), ("q", Cj.Str("\"\\")));
        var file = obj.ToJsonBytes();
        Assert.DoesNotContain((byte)0x0A, file);
        Assert.Equal(obj.ToCanonicalBytes(), StrictJsonParser.Parse(file, "test").ToCanonicalBytes());
    }

    [Theory]
    [InlineData("{\"a\":1.0}")]
    [InlineData("{\"a\":1e3}")]
    [InlineData("{\"a\":[0.5]}")]
    [InlineData("{\"a\":-2E-1}")]
    public void Floats_are_refused(string json)
    {
        var e = Assert.Throws<TufException>(() => StrictJsonParser.Parse(Encoding.UTF8.GetBytes(json), "doc.json"));
        Assert.Equal(TufFailureKind.Malformed, e.Kind);
        Assert.Contains("doc.json", e.Message);
        Assert.Contains("floating point", e.Message);
    }

    [Theory]
    [InlineData("{\"a\":1,\"a\":2}")]
    [InlineData("{\"x\":{\"b\":1,\"b\":1}}")]
    [InlineData("[{\"k\":true,\"k\":false}]")]
    public void Duplicate_keys_are_refused_at_any_depth(string json)
    {
        var e = Assert.Throws<TufException>(() => StrictJsonParser.Parse(Encoding.UTF8.GetBytes(json), "doc.json"));
        Assert.Equal(TufFailureKind.Malformed, e.Kind);
        Assert.Contains("duplicate", e.Message);
    }

    [Theory]
    [InlineData("{\"a\":1,}")]
    [InlineData("{\"a\":1} // c")]
    [InlineData("{\"a\":99999999999999999999}")]
    [InlineData("{\"a\":\"\\ud800\"}")]
    public void Other_invalid_documents_are_refused(string json)
    {
        var e = Assert.Throws<TufException>(() => StrictJsonParser.Parse(Encoding.UTF8.GetBytes(json), "doc.json"));
        Assert.Equal(TufFailureKind.Malformed, e.Kind);
    }

    [Fact]
    public void Key_id_is_the_sha256_of_the_canonical_key_including_unknown_fields()
    {
        const string json = "{\"scheme\":\"ecdsa-sha2-nistp256\",\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\\nX\\n-----END PUBLIC KEY-----\\n\"},\"keytype\":\"ecdsa\",\"x-extra\":1}";
        var key = TufKey.FromJson((CjObject)StrictJsonParser.Parse(Encoding.UTF8.GetBytes(json), "key"), "key");
        var canonical = "{\"keytype\":\"ecdsa\",\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n\"},\"scheme\":\"ecdsa-sha2-nistp256\",\"x-extra\":1}";
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), key.ContentKeyId);
        Assert.NotNull(key.UnusableReason); // "X" is no PEM: the key exists but can never verify
    }
}
