namespace EdgeAgent.Hub.Storage;

public static partial class SchemaMigrations
{
    /// <summary>Releases tables: versions 20–29, appended in order; never edit an applied one.</summary>
    private static partial IReadOnlyList<SchemaMigration> Releases(bool pg) => [];
}
