using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeAgent.Hub.Provisioning.Fleet;

/// <summary>
/// What a device needs, in <c>devices/&lt;id&gt;/</c>: <c>ca.crt</c>, <c>agent.json</c> (a fragment with
/// <c>deviceId</c> and the <c>mqtt</c> section) and, for certificate devices, <c>device.crt</c> and
/// <c>device.key</c> (0600). <see cref="Password"/> is only known right after creation (the hub keeps a hash).
/// </summary>
public sealed record DeviceBundle
{
    public required string DeviceId { get; init; }
    public required DeviceAuthentication Authentication { get; init; }
    public required string Directory { get; init; }
    public string AgentConfigPath => Path.Combine(Directory, "agent.json");
    public string CaCertificatePath => Path.Combine(Directory, "ca.crt");
    /// <summary>Null for password devices.</summary>
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }
    /// <summary>The generated password (password devices), also in agent.json.</summary>
    public string? Password { get; init; }

    /// <summary>
    /// Packs the bundle into a tar file (modes kept: the key stays 0600) for copying to the device,
    /// e.g. <c>tar -C /etc/edgeagent/pki -xf pump-7.tar</c>.
    /// </summary>
    public async Task WriteTarballAsync(string tarPath, CancellationToken cancellationToken)
    {
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using var output = new FileStream(tarPath, create);
        await TarFile.CreateFromDirectoryAsync(Directory, output, includeBaseDirectory: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A complete agent.json: <paramref name="baseAgentJson"/> (e.g. the packaged default with its
    /// <c>CHANGE-ME</c> placeholders) with this bundle's <c>deviceId</c> and <c>mqtt</c> keys laid over it;
    /// other <c>mqtt</c> keys of the base (keepAlive) stay. Keys of the other authentication kind
    /// (certFile/keyFile vs username/password) are removed so the agent does not see both.
    /// </summary>
    /// <exception cref="JsonException">The base is not a JSON object.</exception>
    public async Task<string> MergeIntoAgentConfigAsync(string baseAgentJson, CancellationToken cancellationToken)
    {
        JsonObject merged = JsonNode.Parse(baseAgentJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
            ?? throw new JsonException("The base agent.json is not a JSON object.");
        JsonObject fragment = (JsonObject)JsonNode.Parse(await File.ReadAllTextAsync(AgentConfigPath, cancellationToken).ConfigureAwait(false))!;
        merged["deviceId"] = fragment["deviceId"]!.DeepClone();
        if (merged["mqtt"] is not JsonObject mqtt)
        {
            mqtt = new JsonObject();
            merged["mqtt"] = mqtt;
        }

        foreach (string key in new[] { "certFile", "keyFile", "username", "password", "clientId" })
        {
            mqtt.Remove(key);
        }

        foreach ((string key, JsonNode? value) in (JsonObject)fragment["mqtt"]!)
        {
            mqtt[key] = value?.DeepClone();
        }

        return merged.ToJsonString(new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = ProvisioningJsonContext.Default }) + "\n";
    }

    /// <summary>The agent.json fragment (UTF-8 JSON) written for a device; keys match the agent's <c>mqtt</c> section.</summary>
    internal static string RenderAgentJson(string deviceId, ProvisioningOptions options, DeviceAuthentication authentication, string? password)
    {
        string files = options.DeviceFilesDirectory.TrimEnd('/');
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("deviceId", deviceId);
            json.WriteStartObject("mqtt");
            json.WriteString("host", options.BrokerHost);
            bool certificate = authentication == DeviceAuthentication.Certificate;
            json.WriteNumber("port", certificate ? options.CertificatePort : options.PasswordPort!.Value);
            json.WriteBoolean("useTls", true);
            json.WriteString("caFile", files + "/ca.crt");
            if (certificate)
            {
                json.WriteString("certFile", files + "/device.crt");
                json.WriteString("keyFile", files + "/device.key");
            }
            else
            {
                json.WriteString("username", deviceId);
                json.WriteString("password", password);
            }

            json.WriteString("clientId", deviceId);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
