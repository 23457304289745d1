using EdgeAgent.Hub.Storage;
using Xunit;

namespace EdgeAgent.Hub.Tests.Fixtures;

/// <summary>Hands out fresh, migrated stores of one kind. Each test gets its own database.</summary>
public interface IStoreFactory
{
    Task<IHubStore> CreateAsync();
}

/// <summary>SQLite stores, one file per test in a temp directory.</summary>
public sealed class SqliteStoreFactory : IStoreFactory, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgehub-sqlite-").FullName;

    public async Task<IHubStore> CreateAsync()
    {
        var store = new SqliteHubStore(Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".db"));
        await store.MigrateAsync();
        return store;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>PostgreSQL stores: one real server for the test class, one database per test.</summary>
public sealed class PostgresStoreFactory : IStoreFactory, IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("server not started");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task<IHubStore> CreateAsync()
    {
        var cs = await Server.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..16]);
        var store = new PostgresHubStore(cs);
        await store.MigrateAsync();
        return store;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
