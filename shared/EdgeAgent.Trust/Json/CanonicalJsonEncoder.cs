using System.Buffers;
using System.Globalization;
using System.Text;

namespace EdgeAgent.Trust.Json;

/// <summary>
/// Canonical JSON as securesystemslib <c>formats.encode_canonical</c> writes it, which is what TUF
/// signatures are computed over: object keys sorted (by code point, i.e. UTF-8 bytes), no
/// whitespace, strings escape only <c>\</c> and <c>"</c> and keep every other character as raw
/// UTF-8 (control characters included), integers in decimal, no floats.
/// <see cref="System.Text.Json.Utf8JsonWriter"/> escapes more than that, hence this encoder.
/// Thread safe (stateless).
/// </summary>
public static class CanonicalJsonEncoder
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Encodes <paramref name="value"/> canonically.</summary>
    /// <exception cref="ArgumentException">A string holds an unpaired surrogate (not representable in UTF-8).</exception>
    public static byte[] Encode(CjValue value)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, value);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Like <see cref="Encode"/> but additionally escapes control characters (<c>\n</c>,
    /// <c>\u0001</c>, …), which canonical JSON leaves raw and strict JSON parsers reject (PEM keys
    /// contain newlines). This is how metadata files are written; signatures are still computed
    /// over <see cref="Encode"/>'s output of the parsed <c>signed</c> object.
    /// </summary>
    public static byte[] EncodeAsJson(CjValue value)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, value, escapeControl: true);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Encodes <paramref name="value"/> canonically into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, CjValue value, bool escapeControl = false)
    {
        switch (value)
        {
            case CjObject obj:
                WriteObject(output, obj, escapeControl);
                break;
            case CjArray arr:
                WriteByte(output, (byte)'[');
                for (var i = 0; i < arr.Items.Count; i++)
                {
                    if (i > 0) WriteByte(output, (byte)',');
                    Write(output, arr.Items[i], escapeControl);
                }
                WriteByte(output, (byte)']');
                break;
            case CjString s:
                WriteString(output, s.Value, escapeControl);
                break;
            case CjInteger n:
                var digits = output.GetSpan(20);
                n.Value.TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
                output.Advance(length);
                break;
            case CjBool b:
                WriteAscii(output, b.Value ? "true" : "false");
                break;
            case CjNull:
                WriteAscii(output, "null");
                break;
            default:
                throw new ArgumentException($"Unsupported JSON value type {value.GetType().Name}.", nameof(value));
        }
    }

    private static void WriteObject(IBufferWriter<byte> output, CjObject obj, bool escapeControl)
    {
        var keys = obj.SortedKeys;
        WriteByte(output, (byte)'{');
        for (var i = 0; i < keys.Length; i++)
        {
            if (i > 0) WriteByte(output, (byte)',');
            WriteString(output, keys[i], escapeControl);
            WriteByte(output, (byte)':');
            obj.TryGet(keys[i], out var value);
            Write(output, value, escapeControl);
        }
        WriteByte(output, (byte)'}');
    }

    private static void WriteString(IBufferWriter<byte> output, string value, bool escapeControl)
    {
        // Fast path: encode straight into the output; fall back when something needs escaping.
        var span = output.GetSpan(StrictUtf8.GetMaxByteCount(value.Length) + 2);
        int written;
        try
        {
            written = StrictUtf8.GetBytes(value, span[1..]);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("A JSON string contains an unpaired UTF-16 surrogate and cannot be encoded as canonical JSON.", e);
        }
        var body = span.Slice(1, written);
        var needsEscape = body.IndexOfAny((byte)'\\', (byte)'"') >= 0 || (escapeControl && body.IndexOfAnyInRange((byte)0, (byte)0x1F) >= 0);
        if (!needsEscape)
        {
            span[0] = (byte)'"';
            span[written + 1] = (byte)'"';
            output.Advance(written + 2);
            return;
        }
        WriteEscaped(output, body.ToArray(), escapeControl);
    }

    private static void WriteEscaped(IBufferWriter<byte> output, ReadOnlySpan<byte> utf8, bool escapeControl)
    {
        WriteByte(output, (byte)'"');
        var start = 0;
        for (var i = 0; i < utf8.Length; i++)
        {
            var c = utf8[i];
            if (escapeControl && c < 0x20)
            {
                output.Write(utf8[start..i]);
                WriteAscii(output, c switch { (byte)'\n' => "\\n", (byte)'\r' => "\\r", (byte)'\t' => "\\t", _ => $"\\u{c:x4}" });
                start = i + 1;
                continue;
            }
            if (c != (byte)'\\' && c != (byte)'"') continue;
            output.Write(utf8[start..i]);
            WriteByte(output, (byte)'\\');
            start = i; // the escaped character itself is written with the next run
        }
        output.Write(utf8[start..]);
        WriteByte(output, (byte)'"');
    }

    private static void WriteByte(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    private static void WriteAscii(IBufferWriter<byte> output, string s)
    {
        var span = output.GetSpan(s.Length);
        for (var i = 0; i < s.Length; i++) span[i] = (byte)s[i];
        output.Advance(s.Length);
    }
}
