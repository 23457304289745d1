using System.Globalization;
using System.Text;
using EdgeAgent.OnnxFormat;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Models;

/// <summary>
/// Builds a model's reference drift profile from the data it was trained on, supplied at registration:
/// a CSV file (a header row of feature names, then one numeric row per sample) or a 2-D float32 .npy
/// array (rows × features, names given separately). The names must be what the agent sketches: the
/// window channel names of the sensor source (e.g. <c>ax,ay,az</c>), in the model's input space
/// (after normalization). Every value must be finite; the first bad cell is reported by row and column.
/// </summary>
public static class ReferenceData
{
    /// <summary>At least this many rows, or PSI's ten reference deciles mean little.</summary>
    public const int MinRows = 100;

    /// <summary>Parses <paramref name="data"/> (CSV unless it starts with the .npy magic) into a profile.</summary>
    /// <exception cref="ModelRejectedException">The data is unreadable, too small or has non-finite values.</exception>
    public static ReferenceProfile Build(ReadOnlySpan<byte> data, IReadOnlyList<string>? npyFeatureNames)
    {
        var builder = data is [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', ..] ? FromNpy(data, npyFeatureNames) : FromCsv(data);
        if (builder.Rows < MinRows)
            throw new ModelRejectedException($"reference data has {builder.Rows} rows; at least {MinRows} are needed for a drift reference");
        return builder.Build();
    }

    private static ReferenceProfileBuilder FromCsv(ReadOnlySpan<byte> data)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(data);
        }
        catch (DecoderFallbackException)
        {
            throw new ModelRejectedException("reference data is neither a .npy array nor UTF-8 CSV text");
        }
        using var reader = new StringReader(text);
        var header = reader.ReadLine()?.Trim();
        if (string.IsNullOrEmpty(header))
            throw new ModelRejectedException("reference CSV is empty; expected a header row of feature names (e.g. ax,ay,az) and numeric rows");
        var names = header.Split(',').Select(n => n.Trim()).ToArray();
        if (names.Any(n => n.Length == 0 || double.TryParse(n, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            throw new ModelRejectedException($"reference CSV header '{header}' must name every column (feature names such as ax,ay,az), not hold numbers");
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
            throw new ModelRejectedException($"reference CSV header '{header}' names a feature twice");
        var builder = new ReferenceProfileBuilder(names);
        var row = new float[names.Length];
        int line = 1;
        for (string? s = reader.ReadLine(); s is not null; s = reader.ReadLine())
        {
            line++;
            if (s.Trim().Length == 0) continue;
            var cells = s.Split(',');
            if (cells.Length != names.Length)
                throw new ModelRejectedException($"reference CSV line {line}: {cells.Length} values, the header has {names.Length}");
            for (int c = 0; c < cells.Length; c++)
            {
                if (!float.TryParse(cells[c].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out row[c]) || !float.IsFinite(row[c]))
                    throw new ModelRejectedException($"reference CSV line {line}, column '{names[c]}': '{cells[c].Trim()}' is not a finite number");
            }
            builder.AddRow(row);
        }
        return builder;
    }

    private static ReferenceProfileBuilder FromNpy(ReadOnlySpan<byte> data, IReadOnlyList<string>? names)
    {
        OnnxTensor tensor;
        try
        {
            tensor = NpyFormat.Read(data);
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException)
        {
            throw new ModelRejectedException($"reference .npy is unreadable: {e.Message}", e);
        }
        if (tensor.Dims.Length != 2 || tensor.Data is not float[] values)
            throw new ModelRejectedException($"reference .npy must be a 2-D float32 array (rows × features); it is {tensor.ElementType} [{string.Join(",", tensor.Dims)}]");
        int features = checked((int)tensor.Dims[1]);
        if (names is null || names.Count != features)
            throw new ModelRejectedException($"reference .npy has {features} feature columns; give as many names in 'referenceFeatures' (comma separated, e.g. ax,ay,az), got {names?.Count ?? 0}");
        var builder = new ReferenceProfileBuilder(names);
        for (int r = 0; r < tensor.Dims[0]; r++)
        {
            var row = values.AsSpan(r * features, features);
            for (int c = 0; c < features; c++)
                if (!float.IsFinite(row[c]))
                    throw new ModelRejectedException($"reference .npy row {r}, feature '{names[c]}': {row[c]} is not finite");
            builder.AddRow(row);
        }
        return builder;
    }
}
