using System.Formats.Tar;
using System.Text;
using System.Text.Json;

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
