namespace EdgeAgent.Hub.Storage;

/// <summary>Opens a store from its <c>--store</c> spec: <c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>.</summary>
public static class HubStores
{
    public static IHubStore Open(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec.StartsWith("sqlite:", StringComparison.Ordinal)) return new SqliteHubStore(spec["sqlite:".Length..]);
        if (spec.StartsWith("postgres:", StringComparison.Ordinal)) return new PostgresHubStore(spec["postgres:".Length..]);
        throw new HubStoreException($"store '{spec}' is neither 'sqlite:PATH' nor 'postgres:CONNECTION-STRING' (e.g. postgres:Host=db;Database=edgehub;Username=edgehub)");
    }
}
