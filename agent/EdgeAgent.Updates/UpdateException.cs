namespace EdgeAgent.Updates;

/// <summary>Why an update was refused or rolled back (stable codes for the hub's dashboards).</summary>
public enum UpdateRefusal
{
    Download,
    InsufficientDisk,
    TargetHash,
    BundleFormat,
    HardwareId,
    ReleaseCounter,
    PreviouslyRejected,
    ContractMismatch,
    ModelLoad,
    GoldenVector,
    LatencyBudget,
    ShadowDisagreement,
    HealthErrors,
    HealthLatency,
    HealthCollapse,
    HealthConfidence,
    Storage,
}

/// <summary>An update was refused; the active model is untouched. The message names the cause and the fix.</summary>
public sealed class UpdateRefusedException : Exception
{
    public UpdateRefusedException(UpdateRefusal refusal, string message, Exception? inner = null) : base(message, inner) => Refusal = refusal;

    public UpdateRefusal Refusal { get; }
}
