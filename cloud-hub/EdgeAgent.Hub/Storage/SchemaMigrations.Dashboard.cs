namespace EdgeAgent.Hub.Storage;

public static partial class SchemaMigrations
{
    /// <summary>Dashboard tables: versions 40–49, appended in order; never edit an applied one.</summary>
    private static partial IReadOnlyList<SchemaMigration> Dashboard(bool pg) => [];
}
