namespace EdgeAgent.Hub.Hosting;

/// <summary>What <c>edgehub serve</c> runs with. Immutable; validated by <see cref="Validate"/>.</summary>
public sealed partial record HubOptions
{
    /// <summary><c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>.</summary>
    public required string Store { get; init; }

    /// <summary>Kestrel listen URLs, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:8080"];

    /// <summary>MQTT broker host; null runs the hub without MQTT (API only).</summary>
    public string? MqttHost { get; init; }

    public int MqttPort { get; init; } = 1883;

    /// <summary>Where fleet drift alerts are POSTed (JSON); null: no alerts.</summary>
    public Uri? DriftWebhook { get; init; }

    /// <summary>PSI above which a feature's fleet drift fires an alert (0.25: the usual "significant shift").</summary>
    public double DriftAlertPsi { get; init; } = 0.25;

    /// <summary>How often fleet drift is evaluated for alerts.</summary>
    public TimeSpan DriftAlertInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>CA certificate (PEM) of the broker's TLS listener; with it (or a client certificate) the hub connects with TLS.</summary>
    public string? MqttCaFile { get; init; }

    /// <summary>The hub instance's client certificate (PEM, from <c>edgehub devices</c>' provisioning <c>hub/</c>) for mutual TLS.</summary>
    public string? MqttCertFile { get; init; }

    /// <summary>Private key (PEM) of <see cref="MqttCertFile"/>.</summary>
    public string? MqttKeyFile { get; init; }

    /// <summary>Client id; instances sharing the load need distinct ids (they share the subscription group instead).</summary>
    public string MqttClientId { get; init; } = "edgehub-" + Environment.MachineName;

    /// <summary>Shared subscription group (<c>$share/GROUP/…</c>): hub instances in one group split the telemetry load.</summary>
    public string ShareGroup { get; init; } = "hub";

    /// <summary>Telemetry older than this is deleted by the retention loop; 0 keeps everything.</summary>
    public int RetentionDays { get; init; } = 30;

    public TimeSpan RetentionInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Largest ONNX model the registry accepts.</summary>
    public long MaxModelBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Answer the agents' cloud tier (<c>edgeagent/v1/+/infer/req</c>) when MQTT is configured.</summary>
    public bool CloudInference { get; init; } = true;

    /// <summary>Where registered models are written for ONNX Runtime to load them (cloud inference).</summary>
    public string ModelCacheDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "edgehub-models");

    /// <summary>One message per problem, empty when the options are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Store)) problems.Add("--store is required (sqlite:PATH or postgres:CONNECTION-STRING)");
        if (Urls.Count == 0) problems.Add("--urls needs at least one URL");
        if (MqttPort is < 1 or > 65535) problems.Add($"--mqtt-port {MqttPort} is not a TCP port (1..65535)");
        if ((MqttCertFile is null) != (MqttKeyFile is null)) problems.Add("--mqtt-cert and --mqtt-key go together (the hub's client certificate and its key)");
        foreach (var (name, file) in new[] { ("--mqtt-ca", MqttCaFile), ("--mqtt-cert", MqttCertFile), ("--mqtt-key", MqttKeyFile) })
            if (file is not null && !File.Exists(file)) problems.Add($"{name} {file}: no such file");
        if (RetentionDays < 0) problems.Add($"--retention-days {RetentionDays} must be 0 (keep everything) or positive");
        if (MaxModelBytes < 1) problems.Add("--max-model-bytes must be positive");
        if (string.IsNullOrWhiteSpace(ShareGroup) || ShareGroup.IndexOfAny(['/', '+', '#']) >= 0)
            problems.Add($"--share-group '{ShareGroup}' must be one MQTT topic level without wildcards");
        if (DriftWebhook is { } hook && hook.Scheme is not ("http" or "https")) problems.Add($"--drift-webhook {hook}: must be an http(s) URL");
        if (!(DriftAlertPsi > 0)) problems.Add($"--drift-alert-psi {DriftAlertPsi}: must be positive");
        ValidateReleases(problems);
        ValidateRollouts(problems);
        ValidateDashboard(problems);
        return problems;
    }

    // Feature hooks: each feature (Releases/, Rollouts/, Dashboard/) implements its own in a partial file.
    partial void ValidateReleases(List<string> problems);
    partial void ValidateRollouts(List<string> problems);
    partial void ValidateDashboard(List<string> problems);
}
