namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// Bytes that were supposed to be a DataSketches KLL float sketch are not a valid one. The message names
/// the offending field and value so an operator can tell a truncated upload from a foreign payload.
/// </summary>
public sealed class KllFormatException : FormatException
{
    /// <summary>Creates the exception with an operator-readable message.</summary>
    public KllFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an operator-readable message and the underlying cause.</summary>
    public KllFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
