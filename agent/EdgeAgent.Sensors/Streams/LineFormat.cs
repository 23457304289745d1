namespace EdgeAgent.Sensors.Streams;

/// <summary>Text format of a line stream.</summary>
public enum LineFormat
{
    /// <summary>Comma-separated values; with a header line naming the columns unless configured otherwise.</summary>
    Csv,
    /// <summary>One JSON object per line: <c>{"t": 12.5, "ax": 0.1, "ay": -0.2, "az": 0.98}</c>.</summary>
    Jsonl,
}

/// <summary>How recorded timestamps pace a line stream.</summary>
public enum ReplayTiming
{
    /// <summary>Samples are handed on as soon as they are read (live streams, batch evaluation).</summary>
    AsFastAsPossible,
    /// <summary>Samples are released at their recorded time offsets divided by the speed factor.</summary>
    Recorded,
}
