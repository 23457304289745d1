using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// Where the agent's configuration comes from and in which order later sources win (DESIGN §9):
/// built-in defaults, then the JSON file (<c>/etc/edgeagent/agent.json</c>), then environment variables
/// prefixed <c>EDGEAGENT__</c> (<c>EDGEAGENT__MQTT__HOST</c> → <c>mqtt:host</c>), then the command line
/// (<c>--mqtt:host=broker</c>).
/// </summary>
public sealed record AgentConfigurationSources
{
    public const string EnvironmentPrefix = "EDGEAGENT__";

    /// <summary>The JSON file; when it is the default path and missing, the agent runs from environment and command line alone (with a warning).</summary>
    public string ConfigFile { get; init; } = AgentOptions.DefaultConfigPath;
    /// <summary>True when the operator named the file (then a missing file is an error).</summary>
    public bool ConfigFileRequired { get; init; }
    /// <summary>Only <c>--key=value</c> / <c>--key value</c> overrides; the verb and its own options must be removed by the caller.</summary>
    public IReadOnlyList<string> CommandLine { get; init; } = [];
    /// <summary>Environment to read; null reads the process environment (tests pass a dictionary).</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>Adds the sources, in precedence order, to <paramref name="builder"/>.</summary>
    public void AddTo(IConfigurationBuilder builder)
    {
        // Full path: a relative --config is relative to the working directory, whereas the JSON
        // provider would resolve it against the application's directory.
        if (File.Exists(ConfigFile) || ConfigFileRequired)
            builder.AddJsonFile(Path.GetFullPath(ConfigFile), optional: false, reloadOnChange: false);
        if (Environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
            builder.AddInMemoryCollection(Environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                // Same mapping as the environment provider: "__" separates sections.
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        builder.AddCommandLine([.. CommandLine]);
    }
}

/// <summary>The outcome of loading: the configuration, the options (null on errors) and every problem found.</summary>
public sealed record AgentConfigurationResult(IConfigurationRoot? Configuration, AgentOptions? Options, IReadOnlyList<ConfigProblem> Problems)
{
    public bool IsValid => Options is not null;

    /// <summary>Returns the options or throws <see cref="AgentConfigurationException"/> listing each error.</summary>
    public AgentOptions GetOptionsOrThrow() => Options ?? throw new AgentConfigurationException(Problems);
}

/// <summary>Loads, binds and validates the agent configuration. Thread-safe.</summary>
public static class AgentConfiguration
{
    /// <summary>
    /// Never throws for bad input: an unreadable or malformed file, bad values and missing settings all come
    /// back as <see cref="ConfigProblem"/>s, one per problem.
    /// </summary>
    public static AgentConfigurationResult Load(AgentConfigurationSources sources, AgentOptionsBinder.SectionValidator? sensorsValidator = null)
    {
        var problems = new List<ConfigProblem>();
        if (!File.Exists(sources.ConfigFile) && !sources.ConfigFileRequired)
            problems.Add(new(ConfigProblemSeverity.Warning, "config", $"{sources.ConfigFile} does not exist; using environment and command line only"));

        IConfigurationRoot root;
        try
        {
            var builder = new ConfigurationBuilder();
            sources.AddTo(builder);
            root = builder.Build();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            problems.Add(new(ConfigProblemSeverity.Error, "config", $"{sources.ConfigFile} does not exist; create it (see /usr/share/doc/edgeagent/agent.json.example) or point --config at the right file"));
            return new(null, null, problems);
        }
        catch (UnauthorizedAccessException e)
        {
            problems.Add(new(ConfigProblemSeverity.Error, "config", $"{sources.ConfigFile} cannot be read by this user ({e.Message}); it should be readable by group edgeagent"));
            return new(null, null, problems);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException)
        {
            problems.Add(new(ConfigProblemSeverity.Error, "config", $"{sources.ConfigFile} is not valid JSON: {Innermost(e).Message}"));
            return new(null, null, problems);
        }

        problems.AddRange(AgentOptionsBinder.Bind(root, out var options, sensorsValidator));
        return new(root, options, problems);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
