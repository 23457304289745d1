using System.Text.Json;
using EdgeAgent.Trust.Storage;

namespace EdgeAgent.Updates.State;

/// <summary>
/// Reads and writes <c>update.json</c> and <c>slots.json</c> of one model family. Every write is
/// temp file → fsync → rename → fsync(dir) (<see cref="DurableFile"/>, reused from Trust: the
/// same crash-safety rule, one implementation), so after a power cut each file is either the old
/// or the new version, never torn. Not thread safe: one update manager per family directory.
/// </summary>
public sealed class UpdateStateStore
{
    public const string RecordFile = "update.json";
    public const string PointerFile = "slots.json";

    public UpdateStateStore(string familyDirectory)
    {
        Directory = familyDirectory;
        System.IO.Directory.CreateDirectory(familyDirectory);
    }

    public string Directory { get; }

    public UpdateRecord? ReadRecord() => Read(RecordFile, UpdatesJsonContext.Default.UpdateRecord);

    public Task WriteRecordAsync(UpdateRecord record, CancellationToken cancellationToken) =>
        DurableFile.WriteAsync(Path.Combine(Directory, RecordFile), JsonSerializer.SerializeToUtf8Bytes(record, UpdatesJsonContext.Default.UpdateRecord), cancellationToken);

    public SlotPointer? ReadPointer() => Read(PointerFile, UpdatesJsonContext.Default.SlotPointer);

    public Task WritePointerAsync(SlotPointer pointer, CancellationToken cancellationToken) =>
        DurableFile.WriteAsync(Path.Combine(Directory, PointerFile), JsonSerializer.SerializeToUtf8Bytes(pointer, UpdatesJsonContext.Default.SlotPointer), cancellationToken);

    private T? Read<T>(string name, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) where T : class
    {
        var path = Path.Combine(Directory, name);
        if (!File.Exists(path)) return null;
        var bytes = File.ReadAllBytes(path);
        try
        {
            return JsonSerializer.Deserialize(bytes, info)
                   ?? throw new UpdateStateException($"'{path}' holds 'null'.");
        }
        catch (JsonException e)
        {
            // Atomic replacement means this is not a torn write but outside damage: say so, do not guess.
            throw new UpdateStateException($"'{path}' is not valid ({e.Message}). It is written atomically, so it was damaged outside the agent; restore it or reinstall the model with 'edgeagent bundle install'.", e);
        }
    }
}

/// <summary>A persisted update state file is unreadable.</summary>
public sealed class UpdateStateException(string message, Exception? inner = null) : Exception(message, inner);
