namespace EdgeAgent.Hub.Provisioning.Fleet;

/// <summary>Where provisioning keeps its files and how devices reach the broker. Immutable.</summary>
public sealed record ProvisioningOptions
{
    /// <summary>
    /// Root directory: <c>ca/</c> (0700, CA key 0600), <c>broker/</c> (Mosquitto's files), <c>hub/</c>
    /// (the hub's client certificate), <c>devices/&lt;id&gt;/</c> (one bundle per device), <c>registry.json</c>.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>
    /// Where Mosquitto's files go (default <c>&lt;Directory&gt;/broker</c>), created 2750: run
    /// <c>chgrp -R mosquitto</c> on it once so the broker can read its key and password file after
    /// dropping root; files written later inherit the group.
    /// </summary>
    public string? BrokerDirectory { get; init; }

    /// <summary>Host name or address devices use for the broker: written to agent.json and into the server certificate.</summary>
    public required string BrokerHost { get; init; }

    /// <summary>Further names/addresses in the broker's server certificate (localhost and 127.0.0.1 are always added for a co-located hub).</summary>
    public IReadOnlyList<string> ExtraBrokerNames { get; init; } = [];

    /// <summary>Mutual-TLS listener port.</summary>
    public int CertificatePort { get; init; } = 8883;

    /// <summary>TLS listener for user name/password devices; null: no such listener (password devices are refused).</summary>
    public int? PasswordPort { get; init; } = 8884;

    /// <summary>
    /// Mutual-TLS listener for hub instances, or null for none. On the device listeners the broker forces
    /// the client id to the certificate's identity (so a device cannot take over another's session); a hub
    /// instance opens several connections under one identity (ingestion, cloud tier, fleet hint), which would
    /// then evict each other. This listener keeps the certificate requirement and the ACL but lets the client
    /// choose its id; it binds <see cref="HubBindAddress"/> only (keep it off the devices' network).
    /// </summary>
    public int? HubPort { get; init; }

    /// <summary>Bind address of <see cref="HubPort"/> (default loopback: a co-located hub).</summary>
    public string HubBindAddress { get; init; } = "127.0.0.1";

    /// <summary>Listener bind address; null binds all interfaces.</summary>
    public string? BindAddress { get; init; }

    /// <summary>Writes <c>user X</c> into mosquitto.conf (e.g. "root" in tests whose files live in a 0700 temp dir).</summary>
    public string? BrokerUser { get; init; }

    /// <summary>
    /// Mosquitto's <c>pid_file</c> (written by 2.0.11 also without <c>-d</c>); lets
    /// <see cref="FleetProvisioner.ReloadBrokerAsync"/> find the broker. Null: the caller signals the broker.
    /// </summary>
    public string? BrokerPidFile { get; init; }

    /// <summary>Raw lines added to the global part of mosquitto.conf (logging, persistence).</summary>
    public IReadOnlyList<string> ExtraBrokerConfig { get; init; } = [];

    /// <summary>The hub's MQTT identity (certificate CN). Contains '_' so it can never equal a device id.</summary>
    public string HubIdentity { get; init; } = "edgehub_hub";

    /// <summary>Directory on the device where the bundle's files will be installed; agent.json refers to files there.</summary>
    public string DeviceFilesDirectory { get; init; } = "/etc/edgeagent/pki";

    public TimeSpan DeviceCertificateValidity { get; init; } = TimeSpan.FromDays(2 * 365);

    public string CaCommonName { get; init; } = "EdgeAgent Fleet CA";

    /// <summary>How long to wait for another edgehub process holding the provisioning lock.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
