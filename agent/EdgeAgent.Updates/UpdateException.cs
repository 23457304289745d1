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
    /// <summary>The model's live inputs drifted away from the previous model's window after activation (opt-in, <see cref="Health.HealthPolicy.MaxInputPsi"/>).</summary>
    HealthDrift,
    Storage,
    /// <summary>The device's assignment target was refused (names another device, not a bundle path, too large).</summary>
    Assignment,
    /// <summary>An operator asked for the rollback (<c>edgeagent models rollback</c>, <c>rollback</c> command).</summary>
    Operator,
}

/// <summary>An update was refused; the active model is untouched. The message names the cause and the fix.</summary>
public sealed class UpdateRefusedException : Exception
{
    public UpdateRefusedException(UpdateRefusal refusal, string message, Exception? inner = null) : base(message, inner) => Refusal = refusal;

    public UpdateRefusal Refusal { get; }
}

/// <summary>
/// A manual rollback cannot be done: the family has no installed model, or no intact previous slot.
/// Nothing was changed; the message says what is installed.
/// </summary>
public sealed class RollbackUnavailableException(string message) : Exception(message);
