using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Logging;
using EdgeAgent.Hosting.Tests.Support;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Tests.Logging;

public sealed class LoggingTests
{
    [Fact]
    public void Console_lines_carry_the_syslog_priority_on_every_line_including_stack_traces()
    {
        using var dir = new TempDirectory();
        var console = new StringWriter();
        using (var factory = LoggerFactory.Create(b => b.AddAgentLogging(new LoggingOptions { FilePath = dir.Combine("log", "agent.log"), Level = Serilog.Events.LogEventLevel.Debug }, console)))
        {
            var logger = factory.CreateLogger("Updates");
            logger.LogDebug("checking {Repository}", "tuf");
            logger.LogInformation("model {Model} version {Version} active", "kws", 3);
            logger.LogWarning("outbox at {Percent}% of budget", 91.5);
            Exception thrown;
            try { throw new InvalidOperationException("slot B corrupt"); } catch (InvalidOperationException e) { thrown = e; }
            logger.LogError(thrown, "rollback of {Model} failed", "kws");
            logger.LogCritical("cannot start");
        }
        var lines = console.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("<7>Updates: checking tuf", lines[0]);
        Assert.Equal("<6>Updates: model kws version 3 active", lines[1]);
        Assert.Equal("<4>Updates: outbox at 91.5% of budget", lines[2]);
        Assert.Equal("<3>Updates: rollback of kws failed", lines[3]);
        Assert.StartsWith("<3>System.InvalidOperationException: slot B corrupt", lines[4]);
        Assert.True(lines.Length > 6);
        Assert.All(lines[4..^1], l => Assert.StartsWith("<3>", l));
        Assert.Equal("<2>Updates: cannot start", lines[^1]);
    }

    [Fact]
    public void The_level_filters_and_the_file_gets_the_same_events()
    {
        using var dir = new TempDirectory();
        var console = new StringWriter();
        using (var factory = LoggerFactory.Create(b => b.AddAgentLogging(new LoggingOptions { FilePath = dir.Combine("log", "agent.log"), Level = Serilog.Events.LogEventLevel.Warning }, console)))
        {
            var logger = factory.CreateLogger("Outbox");
            logger.LogInformation("hidden");
            logger.LogWarning("shown {Depth}", 7);
        }
        Assert.Equal("<4>Outbox: shown 7\n", console.ToString());
        string file = File.ReadAllText(Assert.Single(Directory.GetFiles(dir.Combine("log"))));
        Assert.Contains("[WRN] Outbox: shown 7", file);
        Assert.DoesNotContain("hidden", file);
    }
}
