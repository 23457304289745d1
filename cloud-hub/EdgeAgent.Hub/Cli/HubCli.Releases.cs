using System.CommandLine;
using System.Globalization;
using EdgeAgent.Hub.Hosting;

namespace EdgeAgent.Hub.Cli;

public static partial class HubCli
{
    private const string TrustDirOption = "--trust-dir";
    private static readonly (string Name, string Description, string Default)[] DurationOptions =
    [
        ("--timestamp-expiry", "validity of each signed timestamp (re-signed at half), e.g. 1d, 12h", "1d"),
        ("--snapshot-expiry", "validity of each signed snapshot (re-signed at half)", "7d"),
        ("--targets-expiry", "validity of targets and assignments metadata (re-signed at half)", "90d"),
        ("--resign-interval", "how often expiry dates are checked", "10m"),
    ];

    static partial void AddReleaseCommands(RootCommand root) => root.Subcommands.Add(KeysCommands.Keys());

    static partial void AddReleaseServeOptions(Command serve)
    {
        serve.Options.Add(new Option<string?>(TrustDirOption) { Description = "online key directory (DIR/online of 'edgehub keys init'); without it this instance serves but cannot sign" });
        foreach (var (name, description, value) in DurationOptions)
            serve.Options.Add(new Option<string>(name) { Description = description + " (s, m, h, d)", DefaultValueFactory = _ => value });
    }

    static partial void BindReleaseServeOptions(ParseResult parse, Command serve, ref HubOptions options)
    {
        string Value(string name) => parse.GetValue(serve.Options.OfType<Option<string>>().Single(o => o.Name == name))!;
        options = options with
        {
            TrustDirectory = parse.GetValue(serve.Options.OfType<Option<string?>>().Single(o => o.Name == TrustDirOption)),
            TimestampLifetime = ParseDuration("--timestamp-expiry", Value("--timestamp-expiry")),
            SnapshotLifetime = ParseDuration("--snapshot-expiry", Value("--snapshot-expiry")),
            TargetsLifetime = ParseDuration("--targets-expiry", Value("--targets-expiry")),
            ResignInterval = ParseDuration("--resign-interval", Value("--resign-interval")),
        };
    }

    /// <summary>"90s", "30m", "12h", "7d" → a duration; anything else is a one-line operator error.</summary>
    internal static TimeSpan ParseDuration(string option, string text)
    {
        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (text[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }
        throw new HubConfigurationException([$"{option} '{text}' is not a duration: write a positive number and a unit s, m, h or d (e.g. 12h)"]);
    }
}
