using System.Globalization;
using System.Text;

namespace EdgeAgent.OnnxFormat;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (NEP 1 / numpy.lib.format): versions 1.0, 2.0 and 3.0,
/// little-endian, C order, dtypes <c>&lt;f4 &lt;f8 &lt;f2 |i1 |u1 &lt;i2 &lt;u2 &lt;i4 &lt;u4 &lt;i8 &lt;u8 |b1</c>.
/// Fortran order, big-endian data and object/string dtypes are rejected with a message saying how to
/// re-save the file. Thread-safe (stateless).
/// </summary>
/// <remarks>
/// Layout: magic <c>\x93NUMPY</c>, major, minor, header length (u16 for 1.0, u32 for 2.0/3.0), then a
/// Python dict literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c> padded with
/// spaces and ended by <c>\n</c> so the data starts at a multiple of 64 bytes; 3.0 only allows UTF-8 in
/// the header. The data is the raw array, exactly element count × item size bytes.
/// </remarks>
public static class NpyFormat
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static OnnxTensor ReadFile(string path, string? name = null)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Read(bytes, name ?? Path.GetFileNameWithoutExtension(path));
        }
        catch (OnnxFormatException e)
        {
            throw new OnnxFormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Decodes a <c>.npy</c> file's bytes into a tensor named <paramref name="name"/>.</summary>
    /// <exception cref="OnnxFormatException">Not an .npy file, unsupported version/dtype/order, or wrong data length.</exception>
    public static OnnxTensor Read(ReadOnlySpan<byte> bytes, string name = "")
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new OnnxFormatException("Not a .npy file: it does not start with the \\x93NUMPY magic.");
        byte major = bytes[6], minor = bytes[7];
        int headerStart;
        long headerLength;
        switch (major)
        {
            case 1:
                headerLength = bytes[8] | (bytes[9] << 8);
                headerStart = 10;
                break;
            case 2 or 3:
                if (bytes.Length < 12) throw new OnnxFormatException(".npy file is truncated inside its header length.");
                headerLength = (uint)(bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24));
                headerStart = 12;
                break;
            default:
                throw new OnnxFormatException($".npy format version {major}.{minor} is not supported (only 1.0, 2.0 and 3.0).");
        }
        if (headerLength > bytes.Length - headerStart)
            throw new OnnxFormatException($".npy header claims {headerLength} bytes but the file has only {bytes.Length - headerStart} after the preamble (truncated file?).");
        var headerBytes = bytes.Slice(headerStart, (int)headerLength);
        string header;
        try
        {
            // 1.0/2.0 headers are latin-1 (ASCII in practice); 3.0 allows UTF-8 (for structured field names).
            header = major == 3 ? new UTF8Encoding(false, true).GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new OnnxFormatException(".npy 3.0 header is not valid UTF-8.");
        }

        var (descr, fortran, shape) = ParseHeader(header);
        if (fortran)
            throw new OnnxFormatException(".npy array is stored in Fortran (column-major) order, which is not supported; save it with np.save(path, np.ascontiguousarray(a)).");
        var type = ParseDescr(descr);

        long count = OnnxTensor.ElementCountOf(shape)
            ?? throw new OnnxFormatException($".npy shape ({string.Join(", ", shape)}) overflows the element count.");
        int size = ElementTypes.SizeOf(type);
        var data = bytes[(headerStart + (int)headerLength)..];
        if ((ulong)count * (ulong)size != (ulong)data.Length || count > Array.MaxLength)
        {
            string what = (ulong)data.Length < (ulong)count * (ulong)size ? "truncated" : "followed by extra bytes";
            throw new OnnxFormatException(
                $".npy data is {what}: shape ({string.Join(", ", shape)}) of {descr} needs {count} × {size} bytes but {data.Length} follow the header.");
        }
        return OnnxTensor.Create(name, type, shape, TensorProtoCodec.DecodeRaw(type, data, (int)count));
    }

    /// <summary>Encodes a numeric or bool tensor as a <c>.npy</c> file (version 1.0, or 2.0 when the header needs it).</summary>
    /// <exception cref="OnnxFormatException">String tensors (NumPy's fixed-width unicode is not worth supporting here).</exception>
    public static byte[] Write(OnnxTensor tensor)
    {
        string descr = tensor.ElementType switch
        {
            OnnxElementType.Float => "<f4",
            OnnxElementType.Double => "<f8",
            OnnxElementType.Float16 => "<f2",
            OnnxElementType.Int8 => "|i1",
            OnnxElementType.UInt8 => "|u1",
            OnnxElementType.Int16 => "<i2",
            OnnxElementType.UInt16 => "<u2",
            OnnxElementType.Int32 => "<i4",
            OnnxElementType.UInt32 => "<u4",
            OnnxElementType.Int64 => "<i8",
            OnnxElementType.UInt64 => "<u8",
            OnnxElementType.Bool => "|b1",
            _ => throw new OnnxFormatException($"Tensor '{tensor.Name}' of type {ElementTypes.Name(tensor.ElementType)} cannot be written as .npy."),
        };
        string shape = tensor.Dims.Length switch
        {
            0 => "()",
            1 => $"({tensor.Dims[0]},)",
            _ => $"({string.Join(", ", tensor.Dims)})",
        };
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Pad with spaces so magic + version + length + header + '\n' is a multiple of 64 (numpy.lib.format ARRAY_ALIGN).
        int major = dict.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        int preamble = major == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - preamble - 1) + "\n";
        byte[] data = TensorProtoCodec.EncodeRaw(tensor);

        var result = new byte[total + data.Length];
        Magic.CopyTo(result);
        result[6] = (byte)major;
        result[7] = 0;
        int len = header.Length;
        result[8] = (byte)len;
        result[9] = (byte)(len >> 8);
        if (major == 2)
        {
            result[10] = (byte)(len >> 16);
            result[11] = (byte)(len >> 24);
        }
        Encoding.ASCII.GetBytes(header, result.AsSpan(preamble));
        data.CopyTo(result.AsSpan(total));
        return result;
    }

    public static void WriteFile(string path, OnnxTensor tensor) => File.WriteAllBytes(path, Write(tensor));

    private static OnnxElementType ParseDescr(string descr)
    {
        if (descr.Length < 2)
            throw new OnnxFormatException($".npy dtype '{descr}' is not supported.");
        char order = descr[0];
        string kind = descr[1..];
        if (order is not ('<' or '>' or '|' or '='))
        {
            order = '|';
            kind = descr;
        }
        OnnxElementType type = kind switch
        {
            "f4" => OnnxElementType.Float,
            "f8" => OnnxElementType.Double,
            "f2" => OnnxElementType.Float16,
            "i1" => OnnxElementType.Int8,
            "u1" => OnnxElementType.UInt8,
            "b1" => OnnxElementType.Bool,
            "i2" => OnnxElementType.Int16,
            "u2" => OnnxElementType.UInt16,
            "i4" => OnnxElementType.Int32,
            "u4" => OnnxElementType.UInt32,
            "i8" => OnnxElementType.Int64,
            "u8" => OnnxElementType.UInt64,
            _ => throw new OnnxFormatException(
                $".npy dtype '{descr}' is not supported; use one of float32, float64, float16, int8, uint8, int16, int32, int64 or bool (object and string arrays cannot be read)."),
        };
        int size = ElementTypes.SizeOf(type);
        if (size > 1 && order == '>')
            throw new OnnxFormatException($".npy dtype '{descr}' is big-endian, which is not supported; save it with a.astype(a.dtype.newbyteorder('<')).");
        if (size > 1 && order == '|')
            throw new OnnxFormatException($".npy dtype '{descr}' has no byte order although it is {size} bytes wide.");
        // '=' (native) never appears in files numpy writes; accept it as little-endian, the only layout we run on.
        return type;
    }

    /// <summary>Parses the header's Python dict literal: exactly the keys descr, fortran_order and shape.</summary>
    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string header)
    {
        var p = new HeaderParser(header);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        p.Expect('{');
        while (!p.TryConsume('}'))
        {
            string key = p.ReadString();
            p.Expect(':');
            switch (key)
            {
                case "descr":
                    if (p.Peek() != '\'' && p.Peek() != '"')
                        throw new OnnxFormatException(".npy dtype is a structured (record) type, which is not supported.");
                    descr = p.ReadString();
                    break;
                case "fortran_order": fortran = p.ReadBool(); break;
                case "shape": shape = p.ReadTuple(); break;
                default: throw new OnnxFormatException($".npy header has an unexpected key '{key}'.");
            }
            if (!p.TryConsume(','))
            {
                p.Expect('}');
                break;
            }
        }
        p.ExpectEnd();
        if (descr is null || fortran is null || shape is null)
            throw new OnnxFormatException(".npy header lacks one of 'descr', 'fortran_order', 'shape'.");
        return (descr, fortran.Value, shape);
    }

    private ref struct HeaderParser(string text)
    {
        private readonly string _text = text;
        private int _pos;

        public char Peek()
        {
            SkipSpace();
            return _pos < _text.Length ? _text[_pos] : '\0';
        }

        public bool TryConsume(char c)
        {
            if (Peek() != c) return false;
            _pos++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c)) throw Fail($"expected '{c}'");
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos != _text.Length) throw Fail("unexpected text after the dictionary");
        }

        public string ReadString()
        {
            char q = Peek();
            if (q is not ('\'' or '"')) throw Fail("expected a quoted string");
            int end = _text.IndexOf(q, _pos + 1);
            if (end < 0) throw Fail("unterminated string");
            string s = _text.Substring(_pos + 1, end - _pos - 1);
            _pos = end + 1;
            return s;
        }

        public bool ReadBool()
        {
            SkipSpace();
            if (Match("True")) return true;
            if (Match("False")) return false;
            throw Fail("expected True or False");
        }

        public long[] ReadTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (!TryConsume(')'))
            {
                SkipSpace();
                int start = _pos;
                while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos])) _pos++;
                // Python 2 era files may write long literals as 3L.
                if (!long.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                    throw Fail("expected a non-negative integer dimension");
                if (_pos < _text.Length && _text[_pos] == 'L') _pos++;
                dims.Add(d);
                if (dims.Count > 32) throw Fail("more than 32 dimensions");
                if (!TryConsume(','))
                {
                    Expect(')');
                    break;
                }
            }
            return dims.ToArray();
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void SkipSpace()
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos])) _pos++;
        }

        private readonly OnnxFormatException Fail(string what) =>
            new($".npy header is malformed at character {_pos}: {what} (header: {Truncate(_text.TrimEnd())}).");

        private static string Truncate(string s) => s.Length <= 120 ? s : s[..120] + "…";
    }
}
