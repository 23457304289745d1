using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Sensors.Configuration;

/// <summary>Source-generated (reflection-free, AOT-safe) JSON for <see cref="SensorSourceOptions"/> and for
/// reporting <see cref="Sampling.SensorStatsSnapshot"/> (e.g. <c>edgeagent status --json</c>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, UseStringEnumConverter = true,
    DictionaryKeyPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SensorSourceOptions))]
[JsonSerializable(typeof(Sampling.SensorStatsSnapshot))]
public sealed partial class SensorsJsonContext : JsonSerializerContext;
