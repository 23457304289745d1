using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Sensors.Configuration;

/// <summary>Source-generated (reflection-free, AOT-safe) JSON for <see cref="SensorSourceOptions"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(SensorSourceOptions))]
public sealed partial class SensorsJsonContext : JsonSerializerContext;
