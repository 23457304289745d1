namespace EdgeAgent.Sensors.Sampling;

/// <summary>
/// A fault of the source itself (device missing, permission denied, file unreadable), as opposed to bad
/// data, which is counted and skipped. The message names the device or path and what to do.
/// </summary>
public class SensorSourceException : Exception
{
    public SensorSourceException(string message) : base(message) { }
    public SensorSourceException(string message, Exception inner) : base(message, inner) { }
}
