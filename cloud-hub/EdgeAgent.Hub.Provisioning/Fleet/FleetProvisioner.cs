using System.Text.Json;
using EdgeAgent.Hub.Provisioning.Broker;
using EdgeAgent.Hub.Provisioning.Identity;
using EdgeAgent.Hub.Provisioning.Pki;
using EdgeAgent.Hub.Provisioning.Storage;

namespace EdgeAgent.Hub.Provisioning.Fleet;

/// <summary>The hub's own MQTT credentials (mutual TLS), in <c>hub/</c>.</summary>
public sealed record HubCredentials(string Identity, string CertificatePath, string KeyPath, string CaCertificatePath);

/// <summary>
/// Entry point for <c>edgehub devices add/revoke</c> and the demo: creates the fleet CA, the broker's
/// server certificate, the hub's client certificate and the Mosquitto files on first use, then adds and
/// revokes devices. Every mutating call holds an exclusive lock file (<c>.lock</c>) so two edgehub
/// processes cannot interleave, re-reads <c>registry.json</c>, writes all files atomically, and
/// leaves reloading the broker to the caller (<see cref="BrokerReload"/>), because only the caller
/// knows how the broker runs (pid, systemd). Thread safety: instances are not thread safe; use one per
/// operation or serialise calls.
/// </summary>
public sealed class FleetProvisioner : IDisposable
{
    private static readonly string[] LocalNames = ["localhost", "127.0.0.1"];

    private readonly ProvisioningOptions _options;
    private readonly CertificateAuthority _ca;

    private FleetProvisioner(ProvisioningOptions options, CertificateAuthority ca)
    {
        _options = options;
        _ca = ca;
        Broker = new BrokerFiles(options.BrokerDirectory ?? Path.Combine(options.Directory, "broker"));
        string hub = Path.Combine(options.Directory, "hub");
        Hub = new HubCredentials(options.HubIdentity, Path.Combine(hub, "hub.crt"), Path.Combine(hub, "hub.key"), Path.Combine(hub, "ca.crt"));
    }

    public ProvisioningOptions Options => _options;

    /// <summary>Mosquitto's files; start the broker with <c>mosquitto -c <see cref="BrokerFiles.ConfigPath"/></c>.</summary>
    public BrokerFiles Broker { get; }

    public HubCredentials Hub { get; }

    public string CaCertificatePath => _ca.CertificatePath;

    private string RegistryPath => Path.Combine(_options.Directory, "registry.json");

    private string DevicesDirectory => Path.Combine(_options.Directory, "devices");

    /// <summary>Opens the provisioning directory, creating the CA, broker and hub files when missing. Idempotent.</summary>
    public static async Task<FleetProvisioner> OpenAsync(ProvisioningOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Uri.CheckHostName(options.BrokerHost) == UriHostNameType.Unknown)
        {
            throw new ProvisioningException($"Broker host '{options.BrokerHost}' is not a host name or IP address; pass the name devices use to reach the broker.");
        }

        if (options.HubIdentity.Length == 0 || options.HubIdentity.Any(c => c is '/' or '+' or '#' or ':' or ' ' or '\n') || DeviceId.TryValidate(options.HubIdentity, out _))
        {
            throw new ProvisioningException($"Hub identity '{options.HubIdentity}' must not be a valid device id (include '_' for example) and must not contain '/', '+', '#', ':' or spaces.");
        }

        ProtectedFile.EnsureRootDirectory(options.Directory);
        using FileStream lockFile = await AcquireLockAsync(options, cancellationToken).ConfigureAwait(false);
        CertificateAuthority ca = await CertificateAuthority.OpenOrCreateAsync(Path.Combine(options.Directory, "ca"), options.CaCommonName, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        var provisioner = new FleetProvisioner(options, ca);
        try
        {
            await provisioner.EnsureBrokerAndHubAsync(cancellationToken).ConfigureAwait(false);
            // Re-signed at every open so a long-running hub that reopens daily never lets the CRL expire.
            await provisioner.WriteBrokerFilesAsync(await provisioner.ReadRegistryAsync(cancellationToken).ConfigureAwait(false), resignCrl: true, cancellationToken).ConfigureAwait(false);
            return provisioner;
        }
        catch
        {
            provisioner.Dispose();
            throw;
        }
    }

    /// <summary>The registry as stored now (active and revoked devices).</summary>
    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken = default) =>
        (await ReadRegistryAsync(cancellationToken).ConfigureAwait(false)).Devices;

    /// <summary>
    /// Provisions <paramref name="deviceId"/>: issues a client certificate (or a password), writes its
    /// bundle to <c>devices/&lt;id&gt;/</c>, and rewrites the ACL/password file/CRL. Reload the broker
    /// afterwards for password devices (certificate devices need no reload: the CA already trusts them).
    /// A revoked id may be provisioned again; its old certificate stays revoked.
    /// </summary>
    /// <exception cref="InvalidDeviceIdException">The id is not allowed (the message says why).</exception>
    /// <exception cref="ProvisioningException">The device exists and is active, or password devices are disabled.</exception>
    public async Task<DeviceBundle> AddDeviceAsync(string deviceId, DeviceAuthentication authentication = DeviceAuthentication.Certificate, CancellationToken cancellationToken = default)
    {
        DeviceId.Validate(deviceId);
        if (authentication == DeviceAuthentication.Password && _options.PasswordPort is null)
        {
            throw new ProvisioningException($"Device '{deviceId}' cannot use a password: the broker has no password listener (set PasswordPort), or use certificate authentication.");
        }

        using FileStream lockFile = await AcquireLockAsync(_options, cancellationToken).ConfigureAwait(false);
        RegistryDocument registry = await ReadRegistryAsync(cancellationToken).ConfigureAwait(false);
        if (registry.Devices.FirstOrDefault(d => d.Id == deviceId && !d.IsRevoked) is { } existing)
        {
            throw new ProvisioningException($"Device '{deviceId}' already exists (added {existing.CreatedAt:u}, {existing.Authentication}); revoke it first to re-provision, or choose another id.");
        }

        string directory = Path.Combine(DevicesDirectory, deviceId);
        if (System.IO.Directory.Exists(directory))
        {
            // Left from a revoked device: its key must not be mixed with new files.
            System.IO.Directory.Delete(directory, recursive: true);
        }

        ProtectedFile.EnsurePrivateDirectory(directory);
        await ProtectedFile.WriteAsync(Path.Combine(directory, "ca.crt"), _ca.Certificate.ExportCertificatePem() + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        var record = new DeviceRecord { Id = deviceId, Authentication = authentication, CreatedAt = _options.TimeProvider.GetUtcNow() };
        DeviceBundle bundle;
        if (authentication == DeviceAuthentication.Certificate)
        {
            IssuedCertificate issued = _ca.IssueClient(deviceId, _options.DeviceCertificateValidity);
            string cert = Path.Combine(directory, "device.crt"), key = Path.Combine(directory, "device.key");
            await ProtectedFile.WriteAsync(key, issued.PrivateKeyPem + "\n", ProtectedFile.Secret, cancellationToken).ConfigureAwait(false);
            await ProtectedFile.WriteAsync(cert, issued.CertificatePem + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
            record = record with { CertificateSerial = issued.SerialNumberHex };
            bundle = new DeviceBundle { DeviceId = deviceId, Authentication = authentication, Directory = directory, CertificatePath = cert, KeyPath = key };
        }
        else
        {
            string password = MosquittoPasswordHash.GeneratePassword();
            record = record with { PasswordHash = MosquittoPasswordHash.Hash(password) };
            bundle = new DeviceBundle { DeviceId = deviceId, Authentication = authentication, Directory = directory, Password = password };
        }

        // agent.json holds the password for password devices: 0600 like a key.
        await ProtectedFile.WriteAsync(bundle.AgentConfigPath, DeviceBundle.RenderAgentJson(deviceId, _options, authentication, bundle.Password), ProtectedFile.Secret, cancellationToken).ConfigureAwait(false);
        registry.Devices.Add(record);
        await WriteRegistryAsync(registry, cancellationToken).ConfigureAwait(false);
        await WriteBrokerFilesAsync(registry, resignCrl: false, cancellationToken).ConfigureAwait(false);
        return bundle;
    }

    /// <summary>
    /// Revokes <paramref name="deviceId"/>: its certificate serial goes into the CRL (or its password
    /// line leaves the password file) and its bundle's private material is deleted. The device is refused
    /// from its next CONNECT after the broker reloads (<see cref="BrokerReload.Signal"/>); an open
    /// connection is not cut by Mosquitto 2.0.11's reload.
    /// </summary>
    /// <exception cref="ProvisioningException">No active device with this id.</exception>
    public async Task<DeviceRecord> RevokeDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        DeviceId.Validate(deviceId);
        using FileStream lockFile = await AcquireLockAsync(_options, cancellationToken).ConfigureAwait(false);
        RegistryDocument registry = await ReadRegistryAsync(cancellationToken).ConfigureAwait(false);
        int index = registry.Devices.FindIndex(d => d.Id == deviceId && !d.IsRevoked);
        if (index < 0)
        {
            bool wasRevoked = registry.Devices.Any(d => d.Id == deviceId);
            throw new ProvisioningException(wasRevoked
                ? $"Device '{deviceId}' is already revoked; nothing changed."
                : $"No device '{deviceId}' is provisioned; 'edgehub devices list' shows the known ids.");
        }

        DeviceRecord revoked = registry.Devices[index] with { RevokedAt = _options.TimeProvider.GetUtcNow() };
        registry.Devices[index] = revoked;
        await WriteRegistryAsync(registry, cancellationToken).ConfigureAwait(false);
        await WriteBrokerFilesAsync(registry, resignCrl: true, cancellationToken).ConfigureAwait(false);
        string directory = Path.Combine(DevicesDirectory, deviceId);
        if (System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }

        return revoked;
    }

    /// <summary>Re-signs the CRL with a fresh validity (OpenSSL refuses every client once it expires); reload the broker afterwards.</summary>
    public async Task RenewCrlAsync(CancellationToken cancellationToken = default)
    {
        using FileStream lockFile = await AcquireLockAsync(_options, cancellationToken).ConfigureAwait(false);
        await WriteBrokerFilesAsync(await ReadRegistryAsync(cancellationToken).ConfigureAwait(false), resignCrl: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Credentials for one more hub instance, identity <c>&lt;HubIdentity&gt;.&lt;instance&gt;</c>, with the
    /// hub's rights. Needed to scale the hub out behind shared subscriptions: the broker forces client
    /// id = certificate name (<c>use_username_as_clientid</c>), so two instances sharing one certificate
    /// would keep taking each other's session over. Idempotent; reload the broker afterwards (ACL).
    /// </summary>
    /// <exception cref="InvalidDeviceIdException">The instance name breaks the device id rules (same alphabet).</exception>
    public async Task<HubCredentials> AddHubInstanceAsync(string instance, CancellationToken cancellationToken = default)
    {
        if (!DeviceId.TryValidate(instance, out string problem) && !DeviceId.Reserved.Contains(instance))
        {
            throw new InvalidDeviceIdException(instance, problem);
        }

        string identity = _options.HubIdentity + "." + instance;
        string directory = Path.GetDirectoryName(Hub.CertificatePath)!;
        var credentials = new HubCredentials(identity, Path.Combine(directory, identity + ".crt"), Path.Combine(directory, identity + ".key"), Hub.CaCertificatePath);
        using FileStream lockFile = await AcquireLockAsync(_options, cancellationToken).ConfigureAwait(false);
        RegistryDocument registry = await ReadRegistryAsync(cancellationToken).ConfigureAwait(false);
        if (!File.Exists(credentials.CertificatePath) || !File.Exists(credentials.KeyPath))
        {
            IssuedCertificate issued = _ca.IssueClient(identity, TimeSpan.FromDays(5 * 365));
            await ProtectedFile.WriteAsync(credentials.KeyPath, issued.PrivateKeyPem + "\n", ProtectedFile.Secret, cancellationToken).ConfigureAwait(false);
            await ProtectedFile.WriteAsync(credentials.CertificatePath, issued.CertificatePem + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        }

        if (!registry.HubInstances.Contains(identity))
        {
            registry.HubInstances.Add(identity);
            await WriteRegistryAsync(registry, cancellationToken).ConfigureAwait(false);
        }

        await WriteBrokerFilesAsync(registry, resignCrl: false, cancellationToken).ConfigureAwait(false);
        return credentials;
    }

    /// <summary>
    /// Makes the running broker re-read its files (SIGHUP to the pid in <see cref="ProvisioningOptions.BrokerPidFile"/>).
    /// Call after <see cref="AddDeviceAsync"/> of a password device, <see cref="RevokeDeviceAsync"/> and <see cref="RenewCrlAsync"/>.
    /// </summary>
    /// <exception cref="ProvisioningException">No pid file configured, unreadable, or the process cannot be signalled.</exception>
    public Task ReloadBrokerAsync(CancellationToken cancellationToken = default) =>
        _options.BrokerPidFile is { } pidFile
            ? BrokerReload.SignalFromPidFileAsync(pidFile, cancellationToken)
            : throw new ProvisioningException("No broker pid file is configured (ProvisioningOptions.BrokerPidFile), so the broker cannot be found: send it SIGHUP yourself (BrokerReload.Signal(pid) or 'systemctl reload mosquitto').");

    public void Dispose() => _ca.Dispose();

    private async Task EnsureBrokerAndHubAsync(CancellationToken cancellationToken)
    {
        ProtectedFile.EnsureBrokerDirectory(Broker.Directory);
        if (!File.Exists(Broker.ServerCertificatePath) || !File.Exists(Broker.ServerKeyPath))
        {
            string[] names = [_options.BrokerHost, .. _options.ExtraBrokerNames, .. LocalNames];
            IssuedCertificate server = _ca.IssueServer(names.Distinct(StringComparer.OrdinalIgnoreCase).ToArray(), TimeSpan.FromDays(5 * 365));
            await ProtectedFile.WriteAsync(Broker.ServerKeyPath, server.PrivateKeyPem + "\n", ProtectedFile.BrokerSecret, cancellationToken).ConfigureAwait(false);
            await ProtectedFile.WriteAsync(Broker.ServerCertificatePath, server.CertificatePem + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        }

        string ca = _ca.Certificate.ExportCertificatePem() + "\n";
        await ProtectedFile.WriteAsync(Broker.CaCertificatePath, ca, ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        ProtectedFile.EnsurePrivateDirectory(Path.GetDirectoryName(Hub.CertificatePath)!);
        if (!File.Exists(Hub.CertificatePath) || !File.Exists(Hub.KeyPath))
        {
            IssuedCertificate hub = _ca.IssueClient(_options.HubIdentity, TimeSpan.FromDays(5 * 365));
            await ProtectedFile.WriteAsync(Hub.KeyPath, hub.PrivateKeyPem + "\n", ProtectedFile.Secret, cancellationToken).ConfigureAwait(false);
            await ProtectedFile.WriteAsync(Hub.CertificatePath, hub.CertificatePem + "\n", ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        }

        await ProtectedFile.WriteAsync(Hub.CaCertificatePath, ca, ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Brings the broker's files in line with the registry. The CRL is re-signed only when
    /// <paramref name="resignCrl"/> (revocation, renewal, first open): adding a device does not change it,
    /// and unchanged files are not rewritten (each write is an fsync; see docs/bench/provisioning.md).
    /// </summary>
    private async Task WriteBrokerFilesAsync(RegistryDocument registry, bool resignCrl, CancellationToken cancellationToken)
    {
        if (resignCrl || !File.Exists(Broker.CrlPath))
        {
            var revoked = registry.Devices.Where(d => d.IsRevoked && d.CertificateSerial is not null)
                .Select(d => new KeyValuePair<string, DateTimeOffset>(d.CertificateSerial!, d.RevokedAt!.Value)).ToList();
            await _ca.WriteCrlAsync(revoked, cancellationToken).ConfigureAwait(false);
            await ProtectedFile.WriteAsync(Broker.CrlPath, await File.ReadAllTextAsync(_ca.CrlPath, cancellationToken).ConfigureAwait(false), ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        }

        // The broker reads these as its own user (group-readable, see ProtectedFile.BrokerSecret).
        await ProtectedFile.WriteIfChangedAsync(Broker.PasswordPath, MosquittoConfiguration.RenderPasswordFile(registry.Devices), ProtectedFile.BrokerSecret, cancellationToken).ConfigureAwait(false);
        await ProtectedFile.WriteIfChangedAsync(Broker.AclPath, MosquittoConfiguration.RenderAcl([_options.HubIdentity, .. registry.HubInstances]), ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
        await ProtectedFile.WriteIfChangedAsync(Broker.ConfigPath, MosquittoConfiguration.RenderConfig(_options, Broker), ProtectedFile.Public, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RegistryDocument> ReadRegistryAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(RegistryPath))
        {
            return new RegistryDocument();
        }

        try
        {
            await using FileStream stream = File.OpenRead(RegistryPath);
            return await JsonSerializer.DeserializeAsync(stream, ProvisioningJsonContext.Default.RegistryDocument, cancellationToken).ConfigureAwait(false)
                ?? throw new ProvisioningException($"{RegistryPath} is empty (null); restore it from backup.");
        }
        catch (JsonException e)
        {
            throw new ProvisioningException($"{RegistryPath} is not a valid device registry ({e.Message}); restore it from backup. Nothing was changed.", e);
        }
    }

    private Task WriteRegistryAsync(RegistryDocument registry, CancellationToken cancellationToken) =>
        ProtectedFile.WriteAsync(RegistryPath, JsonSerializer.Serialize(registry, ProvisioningJsonContext.Default.RegistryDocument), ProtectedFile.Secret, cancellationToken);

    private static async Task<FileStream> AcquireLockAsync(ProvisioningOptions options, CancellationToken cancellationToken)
    {
        string path = Path.Combine(options.Directory, ".lock");
        DateTimeOffset deadline = options.TimeProvider.GetUtcNow() + options.LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (options.TimeProvider.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new ProvisioningException($"Another edgehub process holds {path} for longer than {options.LockTimeout.TotalSeconds:0} s; wait for it to finish and retry.", e);
            }
        }
    }
}
