using EdgeAgent.Bundles.Assignments;

namespace EdgeAgent.Hub.Releases;

/// <summary>
/// The seam between rollouts (which decide what each device should run) and the release signer (which
/// makes that decision trustworthy): assignments become TUF targets <c>assignments/&lt;id&gt;.json</c>
/// of the online <c>assignments</c> role (DESIGN §6), followed by a new snapshot and timestamp and the
/// retained fleet hint on MQTT.
/// </summary>
/// <remarks>Thread-safe; calls are serialised internally (one metadata version per call, however many devices).</remarks>
public interface IDeviceAssignmentPublisher
{
    /// <summary>
    /// Replaces the assignment of every device in <paramref name="assignments"/> (other devices keep
    /// theirs) and publishes signed metadata for the batch. Completes when the new metadata is durable
    /// and servable. Throws when signing or storage fails; nothing is half-published.
    /// </summary>
    Task PublishAsync(IReadOnlyList<DeviceAssignment> assignments, CancellationToken ct);

    /// <summary>The current assignment of <paramref name="deviceId"/>, or null when it has none.</summary>
    Task<DeviceAssignment?> GetAsync(string deviceId, CancellationToken ct);
}
