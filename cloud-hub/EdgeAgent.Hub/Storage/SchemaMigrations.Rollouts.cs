namespace EdgeAgent.Hub.Storage;

public static partial class SchemaMigrations
{
    /// <summary>Rollouts tables: versions 30–39, appended in order; never edit an applied one.</summary>
    private static partial IReadOnlyList<SchemaMigration> Rollouts(bool pg) => [];
}
