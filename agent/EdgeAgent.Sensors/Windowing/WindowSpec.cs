namespace EdgeAgent.Sensors.Windowing;

/// <summary>Memory order of a window in the model input tensor.</summary>
public enum WindowLayout
{
    /// <summary>[channels, samples]: all samples of channel 0, then channel 1, ... (typical for Conv1D).</summary>
    ChannelsFirst,
    /// <summary>[samples, channels]: one row per sample, channels interleaved (typical for RNNs/dense).</summary>
    SamplesFirst,
}

/// <summary>
/// How a model wants its input windows, as stated in the model manifest: window length and hop in
/// samples, channel order by name, per-channel normalization and the tensor layout.
/// </summary>
/// <remarks>Normalized value = (value − Mean[c]) / Std[c]. Mean and Std are either both absent
/// (no normalization) or have one entry per channel.</remarks>
public sealed record WindowSpec
{
    /// <summary>Samples per window.</summary>
    public required int Length { get; init; }
    /// <summary>Samples between the starts of consecutive windows (Length = no overlap; may exceed Length).</summary>
    public required int Hop { get; init; }
    /// <summary>Channels in the order the model expects them.</summary>
    public required IReadOnlyList<string> Channels { get; init; }
    public IReadOnlyList<float>? Mean { get; init; }
    public IReadOnlyList<float>? Std { get; init; }
    public WindowLayout Layout { get; init; } = WindowLayout.ChannelsFirst;

    /// <summary>Number of floats one window occupies.</summary>
    public int ElementCount => Length * Channels.Count;

    /// <summary>Every problem with this spec, one operator-readable message each (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Length < 1) problems.Add($"window.length: must be at least 1 (is {Length})");
        if (Hop < 1) problems.Add($"window.hop: must be at least 1 (is {Hop})");
        if (Channels.Count == 0) problems.Add("window.channels: at least one channel is required");
        var duplicates = Channels.GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0) problems.Add($"window.channels: duplicate channel(s) {string.Join(", ", duplicates)}");
        if ((Mean is null) != (Std is null)) problems.Add("window.mean/std: give both or neither");
        if (Mean is not null && Mean.Count != Channels.Count)
            problems.Add($"window.mean: has {Mean.Count} entries, expected one per channel ({Channels.Count})");
        if (Std is not null)
        {
            if (Std.Count != Channels.Count)
                problems.Add($"window.std: has {Std.Count} entries, expected one per channel ({Channels.Count})");
            for (int i = 0; i < Std.Count && i < Channels.Count; i++)
                if (!(Std[i] > 0) || !float.IsFinite(Std[i]))
                    problems.Add($"window.std: channel '{Channels[i]}' has std {Std[i]}; it must be a positive finite number");
        }
        if (Mean is not null)
            for (int i = 0; i < Mean.Count && i < Channels.Count; i++)
                if (!float.IsFinite(Mean[i])) problems.Add($"window.mean: channel '{Channels[i]}' has mean {Mean[i]}; it must be finite");
        return problems;
    }
}

/// <summary>A window spec that cannot be used with a source (bad numbers, channel the source lacks).</summary>
public sealed class WindowSpecException(string message) : Exception(message);
