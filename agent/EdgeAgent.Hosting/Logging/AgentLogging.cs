using EdgeAgent.Hosting.Configuration;
using Microsoft.Extensions.Logging;
using Serilog;

namespace EdgeAgent.Hosting.Logging;

/// <summary>
/// The agent's logging pipeline (DESIGN §9): Serilog writing a daily rolling file under the state
/// directory (size-capped, retention from <see cref="LoggingOptions"/>) and journald-friendly
/// <c>&lt;N&gt;</c>-prefixed lines on standard output.
/// </summary>
public static class AgentLogging
{
    /// <summary>File layout: full timestamp and level, because unlike journald a file has no metadata.</summary>
    public const string FileTemplate = "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffzzz} [{Level:u3}] {SourceContext:l}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Builds the Serilog logger. The caller owns (and disposes, to flush) the result.</summary>
    /// <param name="options">Level, file path, retention.</param>
    /// <param name="console">Standard output by default; null-able for tests.</param>
    public static Serilog.Core.Logger CreateLogger(LoggingOptions options, TextWriter? console = null) =>
        new LoggerConfiguration()
            .MinimumLevel.Is(options.Level)
            // The host's own chatter is only useful when something is wrong.
            .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", Serilog.Events.LogEventLevel.Information)
            .WriteTo.Sink(new JournaldConsoleSink(console ?? Console.Out))
            .WriteTo.File(options.FilePath,
                outputTemplate: FileTemplate,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                rollingInterval: RollingInterval.Day,
                retainedFileCountLimit: options.RetainedFiles,
                fileSizeLimitBytes: options.FileSizeLimitBytes,
                rollOnFileSizeLimit: true)
            .CreateLogger();

    /// <summary>Replaces the host's logging providers with Serilog; the provider disposes (flushes) the logger at host shutdown.</summary>
    public static ILoggingBuilder AddAgentLogging(this ILoggingBuilder builder, LoggingOptions options, TextWriter? console = null)
    {
        builder.ClearProviders();
        builder.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Trace); // Serilog filters
        builder.AddProvider(new SerilogLoggerProvider(CreateLogger(options, console), dispose: true));
        return builder;
    }
}
