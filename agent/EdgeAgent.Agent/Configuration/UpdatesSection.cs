using System.Globalization;
using System.Runtime.InteropServices;
using EdgeAgent.Updates.Health;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Agent.Configuration;

/// <summary>
/// Settings of the agent's update loop (section <c>updates</c> of agent.json, <c>EDGEAGENT__UPDATES__…</c>).
/// Built by <see cref="UpdatesSection.Bind(IConfiguration, string)"/>; tests may build it directly.
/// </summary>
public sealed record UpdatesOptions
{
    /// <summary>TUF metadata base URL (the hub's <c>/tuf/metadata/</c>).</summary>
    public required Uri MetadataUrl { get; init; }

    /// <summary>TUF targets base URL (the hub's <c>/tuf/targets/</c>): bundles and assignments.</summary>
    public required Uri TargetBaseUrl { get; init; }

    /// <summary>The root.json shipped with the device (trust anchor, used once to initialise the metadata directory).</summary>
    public required string TrustedRootPath { get; init; }

    /// <summary>Trusted metadata (<c>&lt;stateDirectory&gt;/tuf</c>): root, timestamp, snapshot, targets and the time floor.</summary>
    public required string MetadataDirectory { get; init; }

    /// <summary>This device's hardware id; a bundle must list it (default <c>linux-&lt;arch&gt;</c>).</summary>
    public string HardwareId { get; init; } = DefaultHardwareId;

    /// <summary>Time between polls when no hint arrives (each wait gets ± <see cref="PollJitter"/>).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Fraction of <see cref="PollInterval"/> added or removed at random, so a fleet does not poll in step.</summary>
    public double PollJitter { get; init; } = 0.2;

    /// <summary>First wait after a failed check or an interrupted download; doubles up to <see cref="RetryMax"/>.</summary>
    public TimeSpan RetryInitial { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Resumes of an interrupted download inside one check before it waits for the next check.</summary>
    public int DownloadAttempts { get; init; } = 4;

    /// <summary>How long the loop waits at start for the host to attach the engine of an installed model.</summary>
    public TimeSpan EngineWaitTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Health window and rollback criteria of a newly activated model.</summary>
    public HealthPolicy Health { get; init; } = new();

    /// <summary>Timed runs of the p99 latency check during validation.</summary>
    public int LatencyRuns { get; init; } = 200;

    /// <summary>Live windows compared in shadow before activation; 0 skips shadow.</summary>
    public int ShadowWindows { get; init; }

    public double? MinShadowAgreement { get; init; }

    /// <summary>Install a release whose input/output contract differs from the serving model's.</summary>
    public bool AcceptContractChange { get; init; }

    /// <summary>Free disk kept beyond what an update needs.</summary>
    public long DiskReserveBytes { get; init; } = 16 * 1024 * 1024;

    public static string DefaultHardwareId => "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
}

/// <summary>
/// Binds and validates the <c>updates</c> section. Configuration providers keep every value as a string,
/// so each value is parsed here by hand (no reflection: Native AOT) and every bad value gets its own
/// message with its path (<c>updates.pollInterval: …</c>). A missing section means updates are off.
/// </summary>
public static class UpdatesSection
{
    public const string Name = "updates";

    private static readonly string[] Known =
    [
        "enabled", "metadataUrl", "targetBaseUrl", "trustedRoot", "hardwareId", "pollInterval", "pollJitter", "retryInitial", "retryMax",
        "downloadAttempts", "engineWaitTimeout", "observeWindow", "observeMinCalls", "observeMaxWindow", "observePollInterval",
        "maxErrorRate", "latencyBudgetFactor", "collapseShare", "maxLowConfidenceShare", "lowConfidenceMargin", "driftRollback",
        "maxInputPsi", "latencyRuns", "shadowWindows", "minShadowAgreement", "acceptContractChange", "diskReserveBytes",
    ];

    /// <summary>
    /// The loop's options, or null when the section is absent or <c>enabled</c> is false (no problems then).
    /// </summary>
    /// <param name="configuration">The configuration root (the section is read from it).</param>
    /// <param name="stateDirectory">The agent's state directory; the TUF metadata lives in its <c>tuf</c> folder.</param>
    /// <exception cref="UpdatesConfigurationException">The section has errors; one message each.</exception>
    public static UpdatesOptions? Bind(IConfiguration configuration, string stateDirectory) =>
        Bind(configuration.GetSection(Name), stateDirectory);

    /// <summary>Like <see cref="Bind(IConfiguration, string)"/> for the section itself (e.g. an opaque <c>AgentOptions</c> section); null or absent = off.</summary>
    /// <exception cref="UpdatesConfigurationException">The section has errors; one message each.</exception>
    public static UpdatesOptions? Bind(IConfigurationSection? section, string stateDirectory)
    {
        var options = TryBind(section, stateDirectory, out var problems);
        if (problems.Count > 0) throw new UpdatesConfigurationException(problems);
        return options;
    }

    /// <summary>Every problem of the section (what <c>config check</c> prints); empty when it is valid or absent.</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration, string stateDirectory) =>
        Validate(configuration.GetSection(Name), stateDirectory);

    /// <summary>Every problem of the section itself; empty when it is valid, null or absent.</summary>
    public static IReadOnlyList<string> Validate(IConfigurationSection? section, string stateDirectory)
    {
        TryBind(section, stateDirectory, out var problems);
        return problems;
    }

    private static UpdatesOptions? TryBind(IConfigurationSection? section, string stateDirectory, out List<string> problems)
    {
        problems = [];
        if (section is null || !section.Exists()) return null;
        var r = new Reader(section, problems);
        foreach (var child in section.GetChildren())
            if (!Known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                problems.Add($"updates.{child.Key}: unknown setting; known settings: {string.Join(", ", Known)}");
        if (!r.Bool("enabled", true)) return null;

        var metadata = r.HttpUrl("metadataUrl");
        var targets = r.HttpUrl("targetBaseUrl");
        var root = r.String("trustedRoot");
        var metadataDirectory = Path.Combine(stateDirectory, "tuf");
        if (root is null) problems.Add("updates.trustedRoot: missing; give the path of the root.json this device was provisioned with (the trust anchor of updates)");
        else if (!Path.IsPathFullyQualified(root)) problems.Add($"updates.trustedRoot: '{root}' must be an absolute path");
        else if (!File.Exists(root) && !File.Exists(Path.Combine(metadataDirectory, "root.json")))
            problems.Add($"updates.trustedRoot: '{root}' does not exist and '{metadataDirectory}' holds no trusted root yet; copy the fleet's root.json there (edgehub prints it)");

        var pollInterval = r.Duration("pollInterval", TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        var retryInitial = r.Duration("retryInitial", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        var retryMax = r.Duration("retryMax", TimeSpan.FromMinutes(5), TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1));
        if (retryMax < retryInitial) problems.Add($"updates.retryMax: must be at least updates.retryInitial ({retryInitial})");
        var window = r.Duration("observeWindow", TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(7));
        var maxWindow = r.Duration("observeMaxWindow", TimeSpan.FromHours(1), TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(30));
        if (maxWindow < window) problems.Add($"updates.observeMaxWindow: must be at least updates.observeWindow ({window})");
        var driftRollback = r.Bool("driftRollback", false);
        var maxPsi = r.Number("maxInputPsi", 0.25, 0.001, 100);
        var defaults = new HealthPolicy();
        var health = new HealthPolicy
        {
            Window = window,
            MaxWindow = maxWindow,
            MinCalls = r.Int("observeMinCalls", (int)defaults.MinCalls, 1, 100_000_000),
            PollInterval = r.Duration("observePollInterval", defaults.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)),
            MaxErrorRate = r.Number("maxErrorRate", defaults.MaxErrorRate, 0, 1),
            LatencyBudgetFactor = r.Number("latencyBudgetFactor", defaults.LatencyBudgetFactor, 0.01, 1000),
            CollapseShare = r.Number("collapseShare", defaults.CollapseShare, 0.01, 1),
            MaxLowConfidenceShare = r.Number("maxLowConfidenceShare", defaults.MaxLowConfidenceShare, 0, 1),
            LowConfidenceMargin = r.Number("lowConfidenceMargin", defaults.LowConfidenceMargin, 0, 1),
            MaxInputPsi = driftRollback ? maxPsi : null,
        };
        var options = new UpdatesOptions
        {
            MetadataUrl = metadata!,
            TargetBaseUrl = targets!,
            TrustedRootPath = root ?? "",
            MetadataDirectory = metadataDirectory,
            HardwareId = r.String("hardwareId") ?? UpdatesOptions.DefaultHardwareId,
            PollInterval = pollInterval,
            PollJitter = r.Number("pollJitter", 0.2, 0, 0.9),
            RetryInitial = retryInitial,
            RetryMax = retryMax,
            DownloadAttempts = r.Int("downloadAttempts", 4, 1, 100),
            EngineWaitTimeout = r.Duration("engineWaitTimeout", TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromHours(1)),
            Health = health,
            LatencyRuns = r.Int("latencyRuns", 200, 1, 100_000),
            ShadowWindows = r.Int("shadowWindows", 0, 0, 1_000_000),
            MinShadowAgreement = r.Has("minShadowAgreement") ? r.Number("minShadowAgreement", 0, 0, 1) : null,
            AcceptContractChange = r.Bool("acceptContractChange", false),
            DiskReserveBytes = r.Int("diskReserveBytes", 16 * 1024 * 1024, 0, int.MaxValue),
        };
        return problems.Count > 0 ? null : options;
    }

    /// <summary>Typed reads of one section, one problem per bad value.</summary>
    private sealed class Reader(IConfigurationSection section, List<string> problems)
    {
        public bool Has(string key) => !string.IsNullOrWhiteSpace(section[key]);

        public string? String(string key) => section[key] is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        public Uri? HttpUrl(string key)
        {
            var v = String(key);
            if (v is null)
            {
                problems.Add($"updates.{key}: missing; give the hub's URL (for example https://hub.example/tuf/{(key == "metadataUrl" ? "metadata" : "targets")}/)");
                return null;
            }
            if (Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https") return uri;
            problems.Add($"updates.{key}: '{v}' is not an absolute http:// or https:// URL");
            return null;
        }

        public bool Bool(string key, bool fallback)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (bool.TryParse(v, out var b)) return b;
            problems.Add($"updates.{key}: '{v}' is not true or false");
            return fallback;
        }

        public int Int(string key, int fallback, int min, int max)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
            problems.Add($"updates.{key}: '{v}' is not a whole number between {min} and {max}");
            return fallback;
        }

        public double Number(string key, double fallback, double min, double max)
        {
            var v = String(key);
            if (v is null) return fallback;
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= min && d <= max) return d;
            problems.Add($"updates.{key}: '{v}' is not a number between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }

        /// <summary>Seconds as a number, or a number with ms/s/m/h/d (the units agent.json uses elsewhere).</summary>
        public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
        {
            var v = String(key);
            if (v is null) return fallback;
            var suffix = v.TrimStart("0123456789.".ToCharArray());
            double scale = suffix.Trim().ToLowerInvariant() switch { "" or "s" => 1, "ms" => 0.001, "m" or "min" => 60, "h" => 3600, "d" => 86400, _ => double.NaN };
            if (suffix.Length < v.Length && !double.IsNaN(scale)
                && double.TryParse(v.AsSpan(0, v.Length - suffix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && n * scale <= max.TotalSeconds && n * scale >= min.TotalSeconds)
                return TimeSpan.FromSeconds(n * scale);
            problems.Add($"updates.{key}: '{v}' is not a duration between {min} and {max} (examples: 30s, 500ms, 15m, 1h)");
            return fallback;
        }
    }
}

/// <summary>The <c>updates</c> section is invalid; <see cref="Problems"/> has one message per bad value.</summary>
public sealed class UpdatesConfigurationException(IReadOnlyList<string> problems)
    : Exception("the updates configuration is invalid: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
