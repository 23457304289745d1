using EdgeAgent.Updates.Events;

namespace EdgeAgent.FleetSim.Devices;

/// <summary>One update transition of a device: <c>Version</c> entered phase <c>To</c> at <c>AtMs</c> (Unix ms, the device's clock).</summary>
public sealed record UpdateTransition(string Version, string To, long AtMs, string? Reason);

/// <summary>The transitions of a device's update loop, in order; the source of the rollout timings (docs/FLEET.md).</summary>
/// <remarks>Thread-safe: the update loop appends, the worker reads after the device stopped.</remarks>
public sealed class UpdateLog
{
    private readonly List<UpdateTransition> _transitions = [];
    private readonly Lock _gate = new();

    /// <summary>Handler for <c>UpdateLoop.Transition</c> (cheap: runs on the loop's thread).</summary>
    public void Record(UpdateEvent e)
    {
        var t = new UpdateTransition(e.Version, e.To, e.At.ToUnixTimeMilliseconds(), e.Reason);
        lock (_gate) _transitions.Add(t);
    }

    public IReadOnlyList<UpdateTransition> Snapshot()
    {
        lock (_gate) return _transitions.ToArray();
    }
}
