using System.Globalization;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace EdgeAgent.Hosting.Logging;

/// <summary>
/// Writes each event to standard output as lines prefixed with the syslog priority in angle brackets
/// (<c>&lt;6&gt;</c> info, <c>&lt;4&gt;</c> warning, …), which journald strips and stores as the entry's
/// priority (man sd-daemon, "log levels"). No timestamp: journald adds its own.
/// </summary>
/// <remarks>Thread-safe: one line group is written under a lock so concurrent events do not interleave.</remarks>
public sealed class JournaldConsoleSink(TextWriter output) : ILogEventSink
{
    private readonly MessageTemplateTextFormatter _formatter =
        new("{SourceContext:l}: {Message:lj}{NewLine}{Exception}", CultureInfo.InvariantCulture);
    private readonly object _gate = new();

    /// <summary>syslog priority of a Serilog level: 7 debug, 6 info, 4 warning, 3 error, 2 critical.</summary>
    public static int Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => 7,
        LogEventLevel.Information => 6,
        LogEventLevel.Warning => 4,
        LogEventLevel.Error => 3,
        _ => 2,
    };

    public void Emit(LogEvent logEvent)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        _formatter.Format(logEvent, text);
        string prefix = $"<{Priority(logEvent.Level)}>";
        lock (_gate)
        {
            // Every line gets the prefix: journald judges each line on its own, and an exception's stack
            // trace must keep the error priority.
            foreach (var line in text.ToString().AsSpan().TrimEnd().EnumerateLines())
            {
                output.Write(prefix);
                output.Write(line);
                output.Write('\n');
            }
            output.Flush();
        }
    }
}
