using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Streams;

/// <summary>Outcome of parsing one line.</summary>
internal enum LineParseOutcome
{
    /// <summary>The values span holds a sample.</summary>
    Sample,
    /// <summary>Blank line, <c>#</c> comment or CSV header: nothing to emit, nothing wrong.</summary>
    Skipped,
    /// <summary>The line is bad; the reason has been counted.</summary>
    Bad,
}

/// <summary>
/// Parses CSV or JSONL lines into a caller-provided value span, in the configured channel order,
/// without allocating for good lines.
/// </summary>
/// <remarks>
/// <para>CSV: with a header, columns are matched to channels by name (any order); a header column that is
/// neither a channel nor the timestamp is counted once as <see cref="BadSampleReason.UnknownChannel"/> and
/// ignored — dropping every row for one extra column would lose all data. A header missing a configured
/// channel is a fault of the stream (<see cref="SensorSourceException"/>). Without a header, columns are the
/// timestamp (if a timestamp field is configured) followed by the channels in configured order.</para>
/// <para>JSONL: one flat object per line; a key that is not a channel or the timestamp makes the line
/// bad (<see cref="BadSampleReason.UnknownChannel"/>), missing channels are
/// <see cref="BadSampleReason.WrongArity"/>. <c>null</c> or the strings "NaN"/"Infinity" give non-finite
/// values, which the windower counts and skips.</para>
/// <para>With <c>timestampRequired</c> (replay at recorded timing) a JSONL line without the timestamp is
/// <see cref="BadSampleReason.WrongArity"/> and a CSV header without it is a fault of the stream.</para>
/// <para>Not thread-safe: one instance per stream or connection (it holds the CSV header state).</para>
/// </remarks>
internal sealed class LineSampleParser
{
    private const int TimestampColumn = -2;
    private const int IgnoredColumn = -1;

    private readonly string _sourceName;
    private readonly IReadOnlyList<string> _channels;
    private readonly byte[][] _channelUtf8;
    private readonly string? _timestampField;
    private readonly byte[]? _timestampUtf8;
    private readonly LineFormat _format;
    private readonly bool _csvHeader;
    private readonly SensorStats _stats;
    private readonly bool[] _seen;
    private int[] _columns;
    private bool _awaitingHeader;
    private readonly bool _timestampRequired;

    public LineSampleParser(string sourceName, IReadOnlyList<string> channels, LineFormat format, bool csvHeader,
        string? timestampField, SensorStats stats, bool timestampRequired = false)
    {
        _timestampRequired = timestampRequired && !string.IsNullOrEmpty(timestampField);
        _sourceName = sourceName;
        _channels = channels;
        _channelUtf8 = channels.Select(Encoding.UTF8.GetBytes).ToArray();
        _timestampField = string.IsNullOrEmpty(timestampField) ? null : timestampField;
        _timestampUtf8 = _timestampField is null ? null : Encoding.UTF8.GetBytes(_timestampField);
        _format = format;
        _csvHeader = csvHeader;
        _stats = stats;
        _seen = new bool[channels.Count];
        _awaitingHeader = format == LineFormat.Csv && csvHeader;
        // Headerless CSV: [timestamp,] channel0, channel1, ...
        var columns = new List<int>();
        if (_timestampField is not null) columns.Add(TimestampColumn);
        for (int i = 0; i < channels.Count; i++) columns.Add(i);
        _columns = columns.ToArray();
    }

    /// <summary>Parses one line (without newline). On <see cref="LineParseOutcome.Sample"/>, <paramref name="values"/>
    /// holds one value per channel and <paramref name="timestampSeconds"/> the recorded time or NaN.</summary>
    public LineParseOutcome Parse(ReadOnlySpan<byte> line, Span<float> values, out double timestampSeconds)
    {
        timestampSeconds = double.NaN;
        if (line.StartsWith("\uFEFF"u8)) line = line[3..]; // UTF-8 byte order mark (spreadsheet exports)
        line = line.Trim((byte)' ');
        if (line.IsEmpty || line[0] == (byte)'#') return LineParseOutcome.Skipped;
        return _format == LineFormat.Csv ? ParseCsv(line, values, out timestampSeconds) : ParseJson(line, values, out timestampSeconds);
    }

    private LineParseOutcome ParseCsv(ReadOnlySpan<byte> line, Span<float> values, out double timestampSeconds)
    {
        timestampSeconds = double.NaN;
        if (_awaitingHeader)
        {
            ReadHeader(line);
            _awaitingHeader = false;
            return LineParseOutcome.Skipped;
        }

        int column = 0;
        ReadOnlySpan<byte> rest = line;
        while (true)
        {
            int comma = rest.IndexOf((byte)',');
            ReadOnlySpan<byte> field = (comma < 0 ? rest : rest[..comma]).Trim((byte)' ');
            if (column >= _columns.Length) return Bad(BadSampleReason.WrongArity);
            int target = _columns[column];
            if (target == TimestampColumn)
            {
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out timestampSeconds))
                    return Bad(BadSampleReason.Unparseable);
            }
            else if (target >= 0)
            {
                if (!float.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out values[target]))
                    return Bad(BadSampleReason.Unparseable);
            }
            column++;
            if (comma < 0) break;
            rest = rest[(comma + 1)..];
        }
        return column == _columns.Length ? LineParseOutcome.Sample : Bad(BadSampleReason.WrongArity);
    }

    private void ReadHeader(ReadOnlySpan<byte> line)
    {
        var names = Encoding.UTF8.GetString(line).Split(',').Select(s => s.Trim()).ToArray();
        var columns = new int[names.Length];
        var found = new bool[_channels.Count];
        bool unknown = false;
        for (int c = 0; c < names.Length; c++)
        {
            if (_timestampField is not null && names[c] == _timestampField) { columns[c] = TimestampColumn; continue; }
            int idx = IndexOfChannel(names[c]);
            if (idx >= 0 && !found[idx]) { columns[c] = idx; found[idx] = true; }
            else { columns[c] = IgnoredColumn; unknown = true; }
        }
        var missing = _channels.Where((_, i) => !found[i]).ToArray();
        if (missing.Length > 0)
            throw new SensorSourceException(
                $"{_sourceName}: CSV header '{string.Join(',', names)}' lacks channel(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}; " +
                $"configured channels are {string.Join(", ", _channels)}");
        if (_timestampRequired && !columns.Contains(TimestampColumn))
            throw new SensorSourceException(
                $"{_sourceName}: replay at recorded timing needs the timestamp column '{_timestampField}', but the CSV header is '{string.Join(',', names)}'");
        if (unknown) _stats.CountBad(BadSampleReason.UnknownChannel);
        _columns = columns;
    }

    private int IndexOfChannel(string name)
    {
        for (int i = 0; i < _channels.Count; i++) if (_channels[i] == name) return i;
        return -1;
    }

    private LineParseOutcome ParseJson(ReadOnlySpan<byte> line, Span<float> values, out double timestampSeconds)
    {
        timestampSeconds = double.NaN;
        Array.Clear(_seen);
        Span<byte> scratch = stackalloc byte[64];
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 2 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return Bad(BadSampleReason.Unparseable);
            while (true)
            {
                if (!reader.Read()) return Bad(BadSampleReason.Unparseable);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                // Property name, then its value.
                if (_timestampUtf8 is not null && reader.ValueTextEquals(_timestampUtf8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out timestampSeconds))
                        return Bad(BadSampleReason.Unparseable);
                    continue;
                }
                int idx = -1;
                for (int i = 0; i < _channelUtf8.Length; i++)
                    if (reader.ValueTextEquals(_channelUtf8[i])) { idx = i; break; }
                reader.Read();
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    return Bad(BadSampleReason.Unparseable);
                if (idx < 0) return Bad(BadSampleReason.UnknownChannel);
                if (_seen[idx]) return Bad(BadSampleReason.Unparseable); // duplicate key
                _seen[idx] = true;
                switch (reader.TokenType)
                {
                    case JsonTokenType.Number:
                        if (!reader.TryGetSingle(out values[idx])) return Bad(BadSampleReason.Unparseable);
                        break;
                    case JsonTokenType.Null:
                        values[idx] = float.NaN;
                        break;
                    case JsonTokenType.String:
                        if (reader.HasValueSequence || reader.ValueSpan.Length > scratch.Length)
                            return Bad(BadSampleReason.Unparseable);
                        int n = reader.CopyString(scratch);
                        if (n == 0 || !float.TryParse(scratch[..n], NumberStyles.Float, CultureInfo.InvariantCulture, out values[idx]))
                            return Bad(BadSampleReason.Unparseable);
                        break;
                    default:
                        return Bad(BadSampleReason.Unparseable);
                }
            }
            if (reader.Read()) return Bad(BadSampleReason.Unparseable); // trailing content after the object
        }
        catch (JsonException)
        {
            return Bad(BadSampleReason.Unparseable);
        }
        foreach (bool seen in _seen) if (!seen) return Bad(BadSampleReason.WrongArity);
        // A line that cannot be placed on the replay timeline is incomplete for this stream.
        if (_timestampRequired && double.IsNaN(timestampSeconds)) return Bad(BadSampleReason.WrongArity);
        return LineParseOutcome.Sample;
    }

    private LineParseOutcome Bad(BadSampleReason reason)
    {
        _stats.CountBad(reason);
        return LineParseOutcome.Bad;
    }
}
