namespace EdgeAgent.Sensors.Sampling;

/// <summary>Why an input was not turned into a usable sample. Each reason is counted separately.</summary>
public enum BadSampleReason
{
    /// <summary>A value was NaN or ±Infinity (counted by the windower, which skips the sample).</summary>
    NonFinite,
    /// <summary>Wrong number of fields (CSV) or channels missing (JSONL), or a value vector of the wrong length.</summary>
    WrongArity,
    /// <summary>The line is not valid CSV/JSON, a number does not parse, or a raw sysfs value is unreadable.</summary>
    Unparseable,
    /// <summary>The input names a channel the source is not configured for.</summary>
    UnknownChannel,
    /// <summary>A line exceeded the maximum line length; it is discarded up to the next newline.</summary>
    LineTooLong,
    /// <summary>The sample time went backwards relative to the previous sample.</summary>
    TimeWentBackwards,
}
