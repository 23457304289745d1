namespace EdgeAgent.Hub.Hosting;

public sealed partial record HubOptions
{
    /// <summary>
    /// Bearer token required by <c>GET /metrics</c>; null (default) serves the metrics anonymously on the hub
    /// port, like most Prometheus exporters. Defaults to <c>$EDGEHUB_METRICS_TOKEN</c>. Any API token does
    /// not work here on purpose: a scraper's credential should not open the admin API.
    /// </summary>
    public string? MetricsToken { get; init; } = NullIfEmpty(Environment.GetEnvironmentVariable("EDGEHUB_METRICS_TOKEN"));

    partial void ValidateDashboard(List<string> problems)
    {
        if (MetricsToken is { } t && (t.Length < 16 || t.Any(char.IsWhiteSpace)))
            problems.Add("the metrics token (EDGEHUB_METRICS_TOKEN) must be at least 16 characters without spaces");
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
