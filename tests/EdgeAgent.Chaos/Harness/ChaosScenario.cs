namespace EdgeAgent.Chaos.Harness;

/// <summary>
/// One fault scenario of the chaos suite: injects its fault into running processes, then checks
/// "nothing lost, nothing corrupted, the system recovers by itself". Implementations are stateless;
/// everything a run needs comes from the <see cref="ChaosRun"/> (seed, rounds, log directory).
/// </summary>
public interface IChaosScenario
{
    /// <summary>Name used on the command line and in the verdict line (<c>CHAOS name PASS|FAIL …</c>).</summary>
    string Name { get; }

    /// <summary>One line for <c>--list</c> and docs/CHAOS.md.</summary>
    string Description { get; }

    /// <summary>
    /// Runs the scenario. Problems found are recorded with <see cref="ChaosRun.Fail"/> (the scenario goes on
    /// and reports them all); an exception means the scenario could not complete, which is a failure too.
    /// Returns the one-line summary with figures.
    /// </summary>
    Task<string> RunAsync(ChaosRun run, CancellationToken cancellationToken);
}

/// <summary>A scenario could not run because the machine lacks something it needs (root, a tool); the message says what.</summary>
public sealed class ChaosEnvironmentException(string message) : Exception(message);
