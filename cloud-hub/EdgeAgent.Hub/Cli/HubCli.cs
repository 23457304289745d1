using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Cli;

/// <summary>
/// The <c>edgehub</c> command line: <c>serve</c> runs the hub; <c>migrate</c> and <c>tokens create|list</c>
/// administer its store directly. Operator errors are one line on stderr and exit code 1.
/// </summary>
public static partial class HubCli
{
    // Feature hooks (implemented in partial files of Cli/ by each feature): extra root commands, extra
    // 'serve' options and their binding into HubOptions.
    static partial void AddReleaseCommands(RootCommand root);
    static partial void AddRolloutCommands(RootCommand root);
    static partial void AddReleaseServeOptions(Command serve);
    static partial void BindReleaseServeOptions(ParseResult parse, Command serve, ref HubOptions options);

    public const int Ok = 0;
    public const int Failed = 1;

    public static Task<int> RunAsync(string[] args) => Build().Parse(args).InvokeAsync();

    internal static Option<string> StoreOption() => new("--store")
    {
        Description = "sqlite:PATH or postgres:CONNECTION-STRING (env EDGEHUB_STORE)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("EDGEHUB_STORE") ?? "sqlite:edgehub.db",
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("edgehub: the EdgeAgent cloud hub (device registry, telemetry, drift, model registry)");
        root.Subcommands.Add(Serve());
        root.Subcommands.Add(Migrate());
        var tokens = new Command("tokens", "API tokens");
        tokens.Subcommands.Add(TokensCreate());
        tokens.Subcommands.Add(TokensList());
        root.Subcommands.Add(tokens);
        root.Subcommands.Add(DeviceCommands.Devices());
        root.Subcommands.Add(DeviceCommands.Broker());
        AddReleaseCommands(root);
        AddRolloutCommands(root);
        return root;
    }

    private static Command Serve()
    {
        var store = StoreOption();
        var urls = new Option<string[]>("--urls") { Description = "listen URLs", DefaultValueFactory = _ => ["http://127.0.0.1:8080"], AllowMultipleArgumentsPerToken = true };
        var mqtt = new Option<string?>("--mqtt") { Description = "MQTT broker HOST[:PORT]; omit to run without MQTT" };
        var clientId = new Option<string?>("--mqtt-client-id") { Description = "MQTT client id (distinct per instance)" };
        var group = new Option<string>("--share-group") { Description = "shared subscription group", DefaultValueFactory = _ => "hub" };
        var retention = new Option<int>("--retention-days") { Description = "delete telemetry older than N days (0 keeps all)", DefaultValueFactory = _ => 30 };
        var maxModel = new Option<long>("--max-model-bytes") { Description = "largest model accepted", DefaultValueFactory = _ => 64L * 1024 * 1024 };
        var cloud = new Option<bool>("--cloud-inference") { Description = "answer the agents' cloud tier on edgeagent/v1/+/infer/req (needs --mqtt)", DefaultValueFactory = _ => true };
        var driftWebhook = new Option<Uri?>("--drift-webhook") { Description = "POST fleet drift alerts (JSON) to this URL" };
        var driftPsi = new Option<double>("--drift-alert-psi") { Description = "PSI above which a feature's fleet drift alerts", DefaultValueFactory = _ => 0.25 };
        var mqttCa = new Option<string?>("--mqtt-ca") { Description = "broker CA certificate (PEM): connect with TLS" };
        var mqttCert = new Option<string?>("--mqtt-cert") { Description = "the hub's client certificate (PEM) for mutual TLS" };
        var mqttKey = new Option<string?>("--mqtt-key") { Description = "private key (PEM) of --mqtt-cert" };
        var modelCache = new Option<string>("--model-cache") { Description = "directory for model files loaded by the cloud tier", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "edgehub-models") };
        var cmd = new Command("serve", "Run the hub: admin API, MQTT ingestion, retention, cloud inference") { store, urls, mqtt, clientId, group, retention, maxModel, cloud, modelCache, mqttCa, mqttCert, mqttKey, driftWebhook, driftPsi };
        AddReleaseServeOptions(cmd);
        SetAction(cmd, async (p, ct) =>
        {
            string? host = null;
            int port = 1883;
            if (p.GetValue(mqtt) is { } m)
            {
                var colon = m.LastIndexOf(':');
                host = colon > 0 ? m[..colon] : m;
                if (colon > 0 && !int.TryParse(m[(colon + 1)..], out port)) throw new HubConfigurationException([$"--mqtt '{m}': port is not a number"]);
            }
            var options = new HubOptions
            {
                Store = p.GetValue(store)!, Urls = p.GetValue(urls)!, MqttHost = host, MqttPort = port,
                MqttClientId = p.GetValue(clientId) ?? "edgehub-" + Environment.MachineName, ShareGroup = p.GetValue(group)!,
                RetentionDays = p.GetValue(retention), MaxModelBytes = p.GetValue(maxModel),
                CloudInference = p.GetValue(cloud), ModelCacheDirectory = p.GetValue(modelCache)!,
                MqttCaFile = p.GetValue(mqttCa), MqttCertFile = p.GetValue(mqttCert), MqttKeyFile = p.GetValue(mqttKey),
                DriftWebhook = p.GetValue(driftWebhook), DriftAlertPsi = p.GetValue(driftPsi),
            };
            BindReleaseServeOptions(p, cmd, ref options);
            await using var app = await HubHost.BuildAsync(options, ct: ct);
            // Taken before running: the service provider is disposed when RunAsync returns.
            var services = app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>()
                .OfType<Microsoft.Extensions.Hosting.BackgroundService>().ToList();
            await app.RunAsync(ct);
            // A background service that failed stopped the host (BackgroundServiceExceptionBehavior.StopHost);
            // exit non-zero so systemd's Restart=on-failure restarts the hub (the chaos suite saw exit 0).
            var failed = services.FirstOrDefault(s => s.ExecuteTask?.IsFaulted == true);
            if (failed is not null)
            {
                Console.Error.WriteLine($"edgehub serve: {failed.GetType().Name} failed: {failed.ExecuteTask!.Exception?.InnerException?.Message}");
                return Failed;
            }
            return Ok;
        });
        return cmd;
    }

    private static Command Migrate()
    {
        var store = StoreOption();
        var cmd = new Command("migrate", "Apply pending schema migrations (serve does this too) and list the applied versions") { store };
        SetAction(cmd, async (p, ct) =>
        {
            await using var s = HubStores.Open(p.GetValue(store)!);
            var applied = await s.MigrateAsync(ct);
            Console.WriteLine($"applied now: [{string.Join(",", applied)}]; schema versions: [{string.Join(",", await s.AppliedMigrationsAsync(ct))}]");
            return Ok;
        });
        return cmd;
    }

    private static Command TokensCreate()
    {
        var store = StoreOption();
        var role = new Option<string>("--role") { Description = "admin, operator or read-only", Required = true };
        var name = new Option<string>("--name") { Description = "who or what uses the token", DefaultValueFactory = _ => Environment.UserName };
        var cmd = new Command("create", "Create an API token and print it once (only its SHA-256 is stored)") { store, role, name };
        SetAction(cmd, async (p, ct) =>
        {
            if (!HubRoles.TryParse(p.GetValue(role), out var r)) throw new HubConfigurationException([$"--role '{p.GetValue(role)}' is not one of admin, operator, read-only"]);
            await using var s = HubStores.Open(p.GetValue(store)!);
            await s.MigrateAsync(ct);
            var created = await ApiTokens.CreateAsync(s, p.GetValue(name)!, r, TimeProvider.System, ct);
            await s.AppendAuditAsync(new AuditEntry(0, DateTimeOffset.UtcNow, $"cli ({Environment.UserName})", "tokens create", created.Record.Id, 0,
                $"{created.Record.Name} role {HubRoles.WireName(r)}"), ct);
            Console.Error.WriteLine($"token {created.Record.Id} '{created.Record.Name}' role {HubRoles.WireName(r)} (shown once):");
            Console.WriteLine(created.Secret);
            return Ok;
        });
        return cmd;
    }

    private static Command TokensList()
    {
        var store = StoreOption();
        var cmd = new Command("list", "List API tokens (ids, names, roles; never secrets)") { store };
        SetAction(cmd, async (p, ct) =>
        {
            await using var s = HubStores.Open(p.GetValue(store)!);
            foreach (var t in await s.ListTokensAsync(ct))
                Console.WriteLine($"{t.Id}  {HubRoles.WireName(t.Role),-9}  {t.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}  {t.Name}");
            return Ok;
        });
        return cmd;
    }

    internal static void SetAction(Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct);
            }
            catch (Exception e) when (e is HubStoreException or HubConfigurationException or IOException
                                          or EdgeAgent.Hub.Provisioning.Identity.ProvisioningException
                                          or EdgeAgent.Hub.Provisioning.Identity.InvalidDeviceIdException
                                          or UnauthorizedAccessException or CliUsageException)
            {
                string name = command.Parents.OfType<Command>().FirstOrDefault() is { } parent and not RootCommand ? $"{parent.Name} {command.Name}" : command.Name;
                Console.Error.WriteLine($"edgehub {name}: {e.Message}");
                return Failed;
            }
        });
}
