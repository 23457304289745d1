using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Fixtures;

/// <summary>A seeded hub that the API and metrics tests only read, so they can assert exact figures.</summary>
public sealed class SeededHubFixture : IAsyncLifetime
{
    private SeededHub? _hub;

    public SeededHub Hub => _hub ?? throw new InvalidOperationException("hub not started");

    public async Task InitializeAsync() => _hub = await SeededHub.StartAsync();

    public async Task DisposeAsync()
    {
        if (_hub is not null) await _hub.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SeededHubCollection : ICollectionFixture<SeededHubFixture>
{
    public const string Name = "seeded hub (read only)";
}
