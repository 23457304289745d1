namespace EdgeAgent.Hosting.Configuration;

/// <summary>Whether a configuration problem stops the agent from starting.</summary>
public enum ConfigProblemSeverity { Warning, Error }

/// <summary>
/// One problem found in the configuration, addressed by its dotted path (<c>mqtt.port</c>) so the
/// operator knows which line of agent.json or which <c>EDGEAGENT__</c> variable to fix.
/// </summary>
public sealed record ConfigProblem(ConfigProblemSeverity Severity, string Path, string Message)
{
    public override string ToString() => $"{(Severity == ConfigProblemSeverity.Error ? "error" : "warning")}: {Path}: {Message}";
}

/// <summary>Thrown at start when the configuration has errors; <see cref="Exception.Message"/> lists each one on its own line.</summary>
public sealed class AgentConfigurationException(IReadOnlyList<ConfigProblem> problems)
    : Exception(Format(problems))
{
    /// <summary>
    /// Exit status for an invalid configuration (EX_CONFIG from sysexits.h); the unit's
    /// <c>RestartPreventExitStatus=78</c> keeps systemd from restart-looping on it.
    /// </summary>
    public const int ExitCode = 78;

    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;

    private static string Format(IReadOnlyList<ConfigProblem> problems)
    {
        var errors = problems.Where(p => p.Severity == ConfigProblemSeverity.Error).ToList();
        return $"the configuration has {errors.Count} problem{(errors.Count == 1 ? "" : "s")}:" + Environment.NewLine
            + string.Join(Environment.NewLine, errors.Select(p => "  " + p));
    }
}
