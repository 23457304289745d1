using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Logging;
using EdgeAgent.Hosting.Metrics;
using EdgeAgent.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting;

/// <summary>
/// Builds the agent's host (DESIGN §9): validated configuration, Serilog (rolling file + journald console),
/// our systemd lifetime and watchdog, the control socket and the Prometheus exporter. The agent adds its
/// pipeline as hosted services and calls <see cref="ServiceStatus.ReportReady"/> once it runs.
/// </summary>
/// <example><code>
/// var builder = EdgeAgentHost.CreateBuilder(new AgentConfigurationSources { ConfigFile = path, CommandLine = overrides },
///     section => SensorSourceFactory.Validate(BindSensors(section)));
/// builder.Services.AddHostedService&lt;PipelineService&gt;();   // injects ServiceStatus, LivenessMonitor, AgentMetrics
/// using var host = builder.Build();
/// host.Services.GetRequiredService&lt;ControlCommandRegistry&gt;().Register("status", ...);
/// await host.RunAsync();
/// </code></example>
public static class EdgeAgentHost
{
    /// <summary>Loads and validates the configuration and returns a builder with every hosting service registered.</summary>
    /// <exception cref="AgentConfigurationException">The configuration has errors; the message lists each one.</exception>
    /// <param name="sources">Config file, command-line overrides, environment.</param>
    /// <param name="sensorsValidator">The sensor library's validation of the <c>sensors</c> section.</param>
    /// <param name="console">Where journald lines go; standard output by default.</param>
    /// <param name="systemd">systemd variables; read from the process environment by default.</param>
    public static HostApplicationBuilder CreateBuilder(AgentConfigurationSources sources,
        AgentOptionsBinder.SectionValidator? sensorsValidator = null, TextWriter? console = null, SystemdEnvironment? systemd = null)
    {
        var loaded = AgentConfiguration.Load(sources, sensorsValidator);
        var options = loaded.GetOptionsOrThrow();
        // DisableDefaults: no appsettings.json, no default console logger, no DOTNET_ environment
        // surprises; the agent's sources are exactly those of AgentConfigurationSources.
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ApplicationName = "edgeagent",
            ContentRootPath = AppContext.BaseDirectory,
        });
        sources.AddTo(builder.Configuration);
        builder.Logging.AddAgentLogging(options.Logging, console);
        builder.Services.AddEdgeAgentHosting(options, loaded.Problems, systemd);
        return builder;
    }

    /// <summary>Registers the hosting services for already validated <paramref name="options"/>.</summary>
    public static IServiceCollection AddEdgeAgentHosting(this IServiceCollection services, AgentOptions options,
        IReadOnlyList<ConfigProblem>? warnings = null, SystemdEnvironment? systemd = null)
    {
        services.AddSingleton(options);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(systemd ?? SystemdEnvironment.Read());
        services.AddSingleton(sp => new SystemdNotifier(sp.GetRequiredService<SystemdEnvironment>().NotifySocket, sp.GetRequiredService<ILogger<SystemdNotifier>>()));
        services.AddSingleton<ServiceStatus>();
        services.AddSingleton<IHostLifetime, SystemdLifetime>();
        services.AddSingleton(sp => new LivenessMonitor(sp.GetRequiredService<TimeProvider>()));

        services.AddHostedService(sp => new StartupReport(options, warnings ?? [], sp.GetRequiredService<ILogger<StartupReport>>()));

        services.AddSingleton<WatchdogService>();
        services.AddHostedService(sp => sp.GetRequiredService<WatchdogService>());

        services.AddSingleton<MetricsRegistry>();
        services.AddSingleton<AgentMetrics>();
        if (options.Metrics.Enabled)
        {
            // Through AgentMetrics so the standard families exist (and show at 0) before the first scrape.
            services.AddSingleton(sp => new MetricsExporter(sp.GetRequiredService<AgentMetrics>().Registry,
                System.Net.IPAddress.Parse(options.Metrics.Bind), options.Metrics.Port, sp.GetRequiredService<ILogger<MetricsExporter>>()));
            services.AddHostedService(sp => sp.GetRequiredService<MetricsExporter>());
        }

        services.AddSingleton(sp =>
        {
            var registry = new ControlCommandRegistry();
            BuiltInCommands.Register(registry, options, sp.GetRequiredService<ServiceStatus>(), sp.GetRequiredService<LivenessMonitor>(),
                sp.GetRequiredService<WatchdogService>(), sp.GetRequiredService<SystemdNotifier>(), sp.GetRequiredService<TimeProvider>());
            return registry;
        });
        services.AddSingleton(new ControlServerOptions { SocketPath = options.ControlSocketPath });
        services.AddSingleton<ControlServer>();
        services.AddHostedService(sp => sp.GetRequiredService<ControlServer>());
        return services;
    }
}

/// <summary>Logs, once at start, what the agent runs with and every configuration warning.</summary>
internal sealed class StartupReport(AgentOptions options, IReadOnlyList<ConfigProblem> warnings, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("EdgeAgent {Version} starting as device {DeviceId}; state in {StateDirectory}",
            typeof(StartupReport).Assembly.GetName().Version, options.DeviceId, options.StateDirectory);
        foreach (var w in warnings.Where(p => p.Severity == ConfigProblemSeverity.Warning))
            logger.LogWarning("Configuration {Path}: {Problem}", w.Path, w.Message);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
