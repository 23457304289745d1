using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Outputs;

/// <summary>
/// A destination for window results (stdout JSON Lines, a file, a local MQTT topic, a GPIO line).
/// </summary>
/// <remarks>
/// <para><b>Threading:</b> the pipeline gives every output its own bounded queue and one pump task, so
/// <see cref="WriteAsync"/> is never called concurrently and a slow output never stalls inference: when its
/// queue is full the oldest queued result is dropped and counted (<c>PipelineCounters.OutputDropped</c>).</para>
/// <para><b>Errors:</b> an exception from <see cref="WriteAsync"/> is counted (<c>OutputFailures</c>) and the
/// result skipped; the output is kept (a local MQTT broker that restarts comes back).</para>
/// <para><b>Ownership:</b> the pipeline does not dispose outputs.</para>
/// </remarks>
public interface IResultOutput
{
    /// <summary>Short name for counters and logs, e.g. <c>stdout</c>, <c>mqtt:plant/line1/state</c>.</summary>
    string Name { get; }

    ValueTask WriteAsync(PipelineResult result, CancellationToken cancellationToken);

    /// <summary>Called once when the pipeline ends normally (flush buffered data).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
