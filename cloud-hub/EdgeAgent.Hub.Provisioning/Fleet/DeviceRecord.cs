using System.Text.Json.Serialization;

namespace EdgeAgent.Hub.Provisioning.Fleet;

/// <summary>How a device proves who it is to the broker.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeviceAuthentication>))]
public enum DeviceAuthentication
{
    /// <summary>Mutual TLS with a client certificate from the fleet CA; CN = device id (recommended).</summary>
    Certificate,
    /// <summary>TLS (server authentication only) plus user name = device id and a generated password.</summary>
    Password,
}

/// <summary>One provisioned device as remembered in <c>registry.json</c>. Immutable.</summary>
public sealed record DeviceRecord
{
    public required string Id { get; init; }
    public required DeviceAuthentication Authentication { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>Hex serial of the client certificate (certificate devices).</summary>
    public string? CertificateSerial { get; init; }
    /// <summary>Mosquitto <c>$7$</c> hash of the password (password devices); the clear text is never stored.</summary>
    public string? PasswordHash { get; init; }
    /// <summary>Set once revoked; the record stays so its serial remains in the CRL.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    [JsonIgnore]
    public bool IsRevoked => RevokedAt is not null;
}

/// <summary>The registry file's shape.</summary>
internal sealed record RegistryDocument
{
    public int Version { get; init; } = 1;
    public List<DeviceRecord> Devices { get; init; } = [];
    /// <summary>Hub instance identities added with <see cref="FleetProvisioner.AddHubInstanceAsync"/> (the default identity is implicit).</summary>
    public List<string> HubInstances { get; init; } = [];
}

[JsonSerializable(typeof(RegistryDocument))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ProvisioningJsonContext : JsonSerializerContext;
