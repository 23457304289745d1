using EdgeAgent.Chaos.Scenarios;

namespace EdgeAgent.Chaos.Harness;

/// <summary>A scenario with its default number of rounds in the short (CI) and full forms.</summary>
public sealed record CatalogEntry(IChaosScenario Scenario, int ShortRounds, int FullRounds);

/// <summary>Every scenario of the suite, in the order the full run executes them.</summary>
public static class ScenarioCatalog
{
    public static IReadOnlyList<CatalogEntry> All { get; } =
    [
        new(new BrokerKillScenario(), 2, 8),
        new(new BrokerKillScenario(graceful: true), 1, 3),
        new(new NetworkCutScenario(), 2, 6),
        new(new AgentKillScenario(), 2, 15),
        new(new HubRestartScenario(), 1, 6),
        new(new DiskFullScenario(), 1, 3),
        new(new ClockJumpScenario(), 2, 6),
        new(new CorruptMirrorScenario(), 3, 8),
        new(new UpdateKillScenario(), 4, 40),
        new(new RolloutBrokerKillScenario(), 2, 3),
        new(new RolloutHubRestartScenario(), 1, 3),
        new(new RolloutCorruptMirrorScenario(), 1, 1),
    ];

    public static CatalogEntry Find(string name) =>
        All.FirstOrDefault(e => e.Scenario.Name == name)
        ?? throw new ArgumentException($"unknown scenario '{name}'; known: {string.Join(", ", All.Select(e => e.Scenario.Name))}");
}
