using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.State;

namespace EdgeAgent.Updates;

/// <summary>Source-generated JSON for events and the persisted state files (AOT safe).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false,
    UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UpdateEvent))]
[JsonSerializable(typeof(UpdateRecord))]
[JsonSerializable(typeof(SlotPointer))]
public sealed partial class UpdatesJsonContext : JsonSerializerContext
{
}
