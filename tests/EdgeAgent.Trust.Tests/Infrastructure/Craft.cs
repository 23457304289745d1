using System.Text;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Repository;

namespace EdgeAgent.Trust.Tests.Infrastructure;

/// <summary>Builds adversarial metadata: edited and re-signed envelopes, raw text surgery.</summary>
public static class Craft
{
    /// <summary>A signer: the key id to claim and a function producing the hex signature.</summary>
    public sealed record Signer(string KeyId, Func<byte[], string> Sign)
    {
        public static implicit operator Signer(SigningKey k) => new(k.KeyId, d => k.Sign(d));
    }

    public static CjObject SignedOf(byte[] envelope) =>
        (CjObject)((CjObject)StrictJsonParser.Parse(envelope, "test"))["signed"]!;

    /// <summary>Parses <paramref name="envelope"/>, edits its <c>signed</c> and re-signs it with <paramref name="signers"/>.</summary>
    public static byte[] Resign(byte[] envelope, Func<CjObject, CjObject> edit, params Signer[] signers) =>
        Sign(edit(SignedOf(envelope)), signers);

    public static byte[] Sign(CjObject signed, params Signer[] signers)
    {
        var canonical = signed.ToCanonicalBytes();
        var sigs = signers.Select(s => (CjValue)Cj.Obj(("keyid", Cj.Str(s.KeyId)), ("sig", Cj.Str(s.Sign(canonical)))));
        return Cj.Obj(("signatures", Cj.Arr(sigs)), ("signed", signed)).ToJsonBytes();
    }

    public static Signer[] Signers(IEnumerable<SigningKey> keys) => keys.Select(k => (Signer)k).ToArray();

    public static CjObject WithVersion(this CjObject signed, long version) => signed.With("version", Cj.Int(version));

    public static CjObject WithExpires(this CjObject signed, DateTimeOffset t) =>
        signed.With("expires", Cj.Str(t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Sets a nested member: path like <c>meta/snapshot.json/version</c>.</summary>
    public static CjObject SetPath(this CjObject o, string path, CjValue? value)
    {
        var parts = path.Split('/');
        return Set(o, parts, 0, value);

        static CjObject Set(CjObject o, string[] parts, int i, CjValue? value)
        {
            if (i == parts.Length - 1) return value is null ? o.Without(parts[i]) : o.With(parts[i], value);
            var child = (CjObject)o[parts[i]]!;
            return o.With(parts[i], Set(child, parts, i + 1, value));
        }
    }

    /// <summary>Same bytes except one hex digit of the first signature: same length, other hash.</summary>
    public static byte[] FlipSignatureDigit(byte[] envelope)
    {
        var bytes = (byte[])envelope.Clone();
        var at = Encoding.UTF8.GetString(bytes).IndexOf("\"sig\":\"", StringComparison.Ordinal) + 7;
        bytes[at] = bytes[at] == (byte)'0' ? (byte)'1' : (byte)'0';
        return bytes;
    }

    public static byte[] Replace(byte[] json, string from, string to)
    {
        var text = Encoding.UTF8.GetString(json);
        Assert.Contains(from, text);
        return Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }
}
