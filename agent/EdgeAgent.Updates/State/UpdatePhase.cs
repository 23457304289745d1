namespace EdgeAgent.Updates.State;

/// <summary>Phases of one update (DESIGN §6). Terminal: <see cref="Committed"/>, <see cref="RolledBack"/>, <see cref="Refused"/>.</summary>
public enum UpdatePhase
{
    Idle,
    Downloading,
    Verifying,
    Validating,
    Shadow,
    Activating,
    Observing,
    Committed,
    RolledBack,
    /// <summary>Refused before activation (bad bundle, wrong device, lower counter...): the active model never changed.</summary>
    Refused,
}

public static class UpdatePhaseNames
{
    /// <summary>Wire name (kebab-case) used in events and the state file.</summary>
    public static string Wire(this UpdatePhase phase) => phase switch
    {
        UpdatePhase.RolledBack => "rolled-back",
        _ => phase.ToString().ToLowerInvariant(),
    };

    public static bool IsTerminal(this UpdatePhase phase) => phase is UpdatePhase.Committed or UpdatePhase.RolledBack or UpdatePhase.Refused or UpdatePhase.Idle;
}
