using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Serilog.Events;
using Serilog.Parsing;
using MelLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace EdgeAgent.Hosting.Logging;

/// <summary>
/// Routes Microsoft.Extensions.Logging (what the host and our libraries log to) into Serilog (our one
/// logging pipeline: rolling file + journald console). Written here because Serilog.Extensions.Logging is
/// not available to us; it keeps structured properties (<c>{Model}</c>, <c>{Version}</c>) as Serilog
/// properties without Serilog's reflection-based destructuring (values become scalars).
/// </summary>
/// <remarks>Thread-safe. The provider does not own the Serilog logger unless <c>dispose</c> is true.</remarks>
public sealed class SerilogLoggerProvider(Serilog.ILogger logger, bool dispose = false) : ILoggerProvider
{
    private readonly ConcurrentDictionary<string, MessageTemplate> _templates = new();
    private readonly MessageTemplateParser _parser = new();

    public ILogger CreateLogger(string categoryName) => new CategoryLogger(this, logger.ForContext("SourceContext", categoryName));

    internal MessageTemplate Template(string text)
    {
        // Bounded: templates are code constants; a caller logging interpolated strings must not grow this forever.
        if (_templates.TryGetValue(text, out var t)) return t;
        t = _parser.Parse(text);
        if (_templates.Count < 1000) _templates.TryAdd(text, t);
        return t;
    }

    public void Dispose()
    {
        if (dispose) (logger as IDisposable)?.Dispose();
    }

    internal static LogEventLevel ToSerilog(MelLogLevel level) => level switch
    {
        MelLogLevel.Trace => LogEventLevel.Verbose,
        MelLogLevel.Debug => LogEventLevel.Debug,
        MelLogLevel.Information => LogEventLevel.Information,
        MelLogLevel.Warning => LogEventLevel.Warning,
        MelLogLevel.Error => LogEventLevel.Error,
        _ => LogEventLevel.Fatal,
    };

    private sealed class CategoryLogger(SerilogLoggerProvider provider, Serilog.ILogger logger) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(MelLogLevel logLevel) => logLevel != MelLogLevel.None && logger.IsEnabled(ToSerilog(logLevel));

        public void Log<TState>(MelLogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var level = ToSerilog(logLevel);
            if (logLevel == MelLogLevel.None || !logger.IsEnabled(level)) return;

            string? template = null;
            var properties = new List<LogEventProperty>();
            if (state is IReadOnlyList<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    if (key == "{OriginalFormat}") template = value as string;
                    else if (key.Length > 0) properties.Add(new LogEventProperty(key.TrimStart('@', '$'), new ScalarValue(Scalar(value))));
                }
            }
            // Not a structured message (or a plain string): log the formatted text as a literal template.
            var messageTemplate = template is not null
                ? provider.Template(template)
                : new MessageTemplate([new TextToken(formatter(state, exception))]);
            if (eventId.Id != 0) properties.Add(new LogEventProperty("EventId", new ScalarValue(eventId.Id)));
            logger.Write(new LogEvent(DateTimeOffset.Now, level, exception, messageTemplate, properties));
        }

        private static object? Scalar(object? value) => value switch
        {
            null or string or bool or char or byte or sbyte or short or ushort or int or uint or long or ulong
                or float or double or decimal or DateTime or DateTimeOffset or TimeSpan or Guid or Uri => value,
            Enum e => e.ToString(),
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            System.Collections.IEnumerable e => string.Join(", ", e.Cast<object?>()),
            _ => value.ToString(),
        };
    }
}
