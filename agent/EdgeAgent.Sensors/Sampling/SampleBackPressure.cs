namespace EdgeAgent.Sensors.Sampling;

/// <summary>Policy of the bounded queue between a source and the windower when it is full.</summary>
public enum SampleBackPressure
{
    /// <summary>The source waits for room. Nothing is lost; right for data that can wait (files, FIFOs,
    /// stdin, the synthetic generator): the writer of a pipe is itself held back by the kernel.</summary>
    Wait,

    /// <summary>The oldest queued sample is dropped and counted in <see cref="SensorStats.Dropped"/>.
    /// Right for live devices (GPIO, IIO, serial, socket): a stale window is worth less than a fresh one
    /// and the device cannot be paused.</summary>
    DropOldest,
}
