using System.Text;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// The text <c>edgeagent config check</c> prints: every problem on its own line (errors first), then the
/// effective configuration with secrets redacted — or, when it does not validate, the merged raw
/// configuration (also redacted) so the operator sees what the agent actually read.
/// </summary>
public static class ConfigCheckReport
{
    /// <summary>Process exit code for the verb: 0 valid, 1 valid with warnings, 2 errors.</summary>
    public static int ExitCode(AgentConfigurationResult result) =>
        !result.IsValid ? 2 : result.Problems.Count > 0 ? 1 : 0;

    public static string Format(AgentConfigurationResult result, string configFile)
    {
        var sb = new StringBuilder();
        var ordered = result.Problems.OrderByDescending(p => p.Severity).ThenBy(p => p.Path, StringComparer.Ordinal).ToList();
        int errors = ordered.Count(p => p.Severity == ConfigProblemSeverity.Error);
        sb.Append(errors > 0
            ? $"{configFile}: {errors} error{(errors == 1 ? "" : "s")}, {ordered.Count - errors} warning{(ordered.Count - errors == 1 ? "" : "s")}\n"
            : $"{configFile}: valid{(ordered.Count > 0 ? $", {ordered.Count} warning{(ordered.Count == 1 ? "" : "s")}" : "")}\n");
        foreach (var p in ordered) sb.Append("  ").Append(p).Append('\n');
        if (result.Options is { } options)
            sb.Append("\neffective configuration (secrets redacted):\n").Append(EffectiveConfigRenderer.Render(options)).Append('\n');
        else if (result.Configuration is { } raw)
            sb.Append("\nconfiguration as read (secrets redacted):\n").Append(EffectiveConfigRenderer.RenderRaw(raw)).Append('\n');
        return sb.ToString();
    }
}
