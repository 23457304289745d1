using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// Renders the effective configuration (after defaults and overrides) as indented JSON for
/// <c>edgeagent config check</c> and the support bundle, with secrets replaced by <see cref="Redacted"/>.
/// </summary>
/// <remarks>Thread-safe (stateless). Written with <see cref="Utf8JsonWriter"/>, no reflection.</remarks>
public static class EffectiveConfigRenderer
{
    public const string Redacted = "***redacted***";

    /// <summary>Whether a configuration key names a secret (password, token, secret, private key, api key).</summary>
    public static bool IsSecretKey(string key)
    {
        string k = key.ToLowerInvariant();
        return k.Contains("password") || k.Contains("secret") || k.Contains("token") || k.Contains("apikey") || k.Contains("api_key")
            || k == "privatekey" || k == "psk";
    }

    public static string Render(AgentOptions o)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("deviceId", o.DeviceId);
            w.WriteString("stateDirectory", o.StateDirectory);
            w.WriteString("runtimeDirectory", o.RuntimeDirectory);
            w.WriteString("modelStoreDirectory", o.ModelStoreDirectory);
            w.WriteString("controlSocketPath", o.ControlSocketPath);
            w.WriteString("shutdownTimeout", ConfigReader.FormatDuration(o.ShutdownTimeout));

            w.WriteStartObject("mqtt");
            w.WriteString("host", o.Mqtt.Host);
            w.WriteNumber("port", o.Mqtt.Port);
            w.WriteBoolean("useTls", o.Mqtt.UseTls);
            WriteOptional(w, "caFile", o.Mqtt.CaFile);
            WriteOptional(w, "certFile", o.Mqtt.CertFile);
            WriteOptional(w, "keyFile", o.Mqtt.KeyFile);
            w.WriteString("clientId", o.Mqtt.ClientId);
            w.WriteString("keepAlive", ConfigReader.FormatDuration(o.Mqtt.KeepAlive));
            WriteOptional(w, "username", o.Mqtt.Username);
            WriteOptional(w, "password", o.Mqtt.Password is null ? null : Redacted);
            w.WriteEndObject();

            w.WriteStartObject("outbox");
            w.WriteNumber("budgetBytes", o.Outbox.BudgetBytes);
            w.WriteString("groupCommitWindow", ConfigReader.FormatDuration(o.Outbox.GroupCommitWindow));
            w.WriteNumber("groupCommitMaxRecords", o.Outbox.GroupCommitMaxRecords);
            w.WriteEndObject();

            w.WriteStartObject("metrics");
            w.WriteBoolean("enabled", o.Metrics.Enabled);
            w.WriteString("bind", o.Metrics.Bind);
            w.WriteNumber("port", o.Metrics.Port);
            w.WriteEndObject();

            w.WriteStartObject("logging");
            w.WriteString("level", o.Logging.Level.ToString());
            w.WriteString("filePath", o.Logging.FilePath);
            w.WriteNumber("retainedFiles", o.Logging.RetainedFiles);
            w.WriteNumber("fileSizeLimitBytes", o.Logging.FileSizeLimitBytes);
            w.WriteEndObject();

            WriteServiceSections(w, o);

            if (o.Sensors is not null)
            {
                w.WritePropertyName("sensors");
                WriteSection(w, o.Sensors);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Renders any configuration (for example a configuration that failed validation) with secrets redacted.</summary>
    public static string RenderRaw(IConfiguration configuration)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            WriteChildren(w, configuration.GetChildren().ToList());
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteServiceSections(Utf8JsonWriter w, AgentOptions o)
    {
        var c = o.Cloud;
        w.WriteStartObject("cloud");
        w.WriteBoolean("enabled", c.Enabled);
        w.WriteString("timeout", ConfigReader.FormatDuration(c.Timeout));
        w.WriteNumber("requestsPerSecond", c.RequestsPerSecond);
        w.WriteNumber("burst", c.Burst);
        if (c.DailyBudget is { } daily) w.WriteNumber("dailyBudget", daily); else w.WriteString("dailyBudget", "unlimited");
        w.WriteNumber("workers", c.Workers);
        w.WriteNumber("queueCapacity", c.QueueCapacity);
        w.WriteStartObject("circuit");
        w.WriteNumber("minimumThroughput", c.Circuit.MinimumThroughput);
        w.WriteNumber("failureRatio", c.Circuit.FailureRatio);
        w.WriteString("samplingDuration", ConfigReader.FormatDuration(c.Circuit.SamplingDuration));
        w.WriteString("breakDuration", ConfigReader.FormatDuration(c.Circuit.BreakDuration));
        w.WriteEndObject();
        w.WriteEndObject();

        var outputs = o.Outputs;
        w.WriteStartObject("outputs");
        w.WriteBoolean("stdout", outputs.Stdout);
        WriteOptional(w, "file", outputs.File);
        if (outputs.Mqtt is { } m)
        {
            w.WriteStartObject("mqtt");
            w.WriteString("topic", m.Topic);
            w.WriteNumber("qos", m.QoS);
            w.WriteBoolean("retain", m.Retain);
            WriteOptional(w, "host", m.Host);
            w.WriteNumber("port", m.Port);
            w.WriteEndObject();
        }
        else w.WriteNull("mqtt");
        if (outputs.Gpio is { } g)
        {
            w.WriteStartObject("gpio");
            w.WriteString("valueFile", g.ValueFile);
            w.WriteStartArray("activeLabels");
            foreach (var label in g.ActiveLabels) w.WriteStringValue(label);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else w.WriteNull("gpio");
        w.WriteEndObject();

        var p = o.Pipeline;
        w.WriteStartObject("pipeline");
        if (p.OutOfDistributionThreshold is { } ood) w.WriteNumber("outOfDistributionThreshold", ood); else w.WriteNull("outOfDistributionThreshold");
        w.WriteStartObject("drift");
        w.WriteString("snapshotInterval", ConfigReader.FormatDuration(p.DriftSnapshotInterval));
        if (p.DriftSnapshotEveryWindows is { } every) w.WriteNumber("snapshotEveryWindows", every); else w.WriteNull("snapshotEveryWindows");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }

    private static void WriteSection(Utf8JsonWriter w, IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            if (section.Value is null) w.WriteNullValue();
            else if (IsSecretKey(section.Key)) w.WriteStringValue(Redacted);
            else w.WriteStringValue(section.Value);
            return;
        }
        WriteChildren(w, children);
    }

    private static void WriteChildren(Utf8JsonWriter w, List<IConfigurationSection> children)
    {
        // Configuration flattens arrays to keys 0..n-1: render those back as arrays.
        bool isArray = children.Count > 0
            && children.All(c => int.TryParse(c.Key, System.Globalization.CultureInfo.InvariantCulture, out _))
            && children.Select(c => int.Parse(c.Key, System.Globalization.CultureInfo.InvariantCulture)).Order().SequenceEqual(Enumerable.Range(0, children.Count));
        if (isArray)
        {
            w.WriteStartArray();
            foreach (var c in children.OrderBy(c => int.Parse(c.Key, System.Globalization.CultureInfo.InvariantCulture))) WriteSection(w, c);
            w.WriteEndArray();
            return;
        }
        w.WriteStartObject();
        foreach (var c in children)
        {
            w.WritePropertyName(c.Key);
            WriteSection(w, c);
        }
        w.WriteEndObject();
    }
}
