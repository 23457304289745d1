using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using EdgeAgent.Hub.Provisioning.Broker;
using EdgeAgent.Hub.Provisioning.Fleet;
using EdgeAgent.Mqtt;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Hub.Provisioning.Tests.Broker;

/// <summary>
/// A provisioning directory in a temp dir plus a real Mosquitto started from the configuration the
/// library generated (<c>mosquitto -c broker/mosquitto.conf</c>). The shared MosquittoBroker fixture
/// writes its own configuration, so the generated file is exercised through this small launcher.
/// </summary>
public sealed class ProvisionedBroker : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    private ProvisionedBroker(FleetProvisioner provisioner, string root)
    {
        Provisioner = provisioner;
        Root = root;
    }

    public FleetProvisioner Provisioner { get; }

    public string Root { get; }

    public int CertificatePort => Provisioner.Options.CertificatePort;

    public int PasswordPort => Provisioner.Options.PasswordPort!.Value;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <param name="dropToMosquittoUser">Run as root, let the broker drop to user 'mosquitto' (production setup) instead of staying root.</param>
    public static async Task<ProvisionedBroker> CreateAsync(bool dropToMosquittoUser = false)
    {
        bool runAsRoot = Environment.UserName == "root";
        string root = Path.Combine(Path.GetTempPath(), "edgeagent-prov-" + Guid.NewGuid().ToString("N")[..10]);
        var options = new ProvisioningOptions
        {
            Directory = root,
            BrokerHost = "localhost",
            BindAddress = "127.0.0.1",
            BrokerPidFile = Path.Combine(root, "run", "mosquitto.pid"),
            CertificatePort = FreePort(),
            PasswordPort = FreePort(),
            HubPort = FreePort(),
            // Run as root, Mosquitto would drop to 'mosquitto' and fail to read our 0700 temp dir (REFERENCE.md).
            BrokerUser = !runAsRoot ? null : dropToMosquittoUser ? "mosquitto" : "root",
            // stderr: unbuffered, so the log can be read while the broker runs.
            ExtraBrokerConfig = ["log_dest stderr", "log_type all"],
        };
        FleetProvisioner provisioner = await FleetProvisioner.OpenAsync(options);
        return new ProvisionedBroker(provisioner, root);
    }

    public async Task StartAsync()
    {
        // Like /run/mosquitto: the broker writes its pid file after dropping privileges.
        string run = Path.GetDirectoryName(Provisioner.Options.BrokerPidFile)!;
        Directory.CreateDirectory(run);
        if (Provisioner.Options.BrokerUser is "mosquitto")
        {
            ChildProcess.Result chown = await ChildProcess.RunAsync("chown", ["mosquitto", run]);
            Assert.True(chown.ExitCode == 0, chown.StandardError);
        }

        var info = new ProcessStartInfo(MosquittoBroker.BrokerPath)
        {
            ArgumentList = { "-c", Provisioner.Broker.ConfigPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process = Process.Start(info) ?? throw new InvalidOperationException("mosquitto did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        DateTime deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with {process.ExitCode}:\n{Log}\nconfig:\n{await File.ReadAllTextAsync(Provisioner.Broker.ConfigPath)}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, CertificatePort);
                using var probe2 = new TcpClient();
                await probe2.ConnectAsync(IPAddress.Loopback, PasswordPort);
                if (new FileInfo(Provisioner.Options.BrokerPidFile!) is { Exists: true, Length: > 0 })
                {
                    return;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("mosquitto did not open its listeners and pid file:\n" + Log);
            }

            await Task.Delay(25);
        }
    }

    /// <summary>SIGHUP through the library (pid file), then waits until the broker logged that it reloaded.</summary>
    public async Task ReloadAsync()
    {
        int before = CountReloads();
        await Provisioner.ReloadBrokerAsync();
        DateTime deadline = DateTime.UtcNow.AddSeconds(15);
        while (CountReloads() == before)
        {
            Assert.True(DateTime.UtcNow < deadline, "broker did not log a reload:\n" + Log);
            await Task.Delay(20);
        }
    }

    private int CountReloads()
    {
        string log = Log;
        int count = 0, at = 0;
        while ((at = log.IndexOf("Reloading config", at, StringComparison.Ordinal)) >= 0)
        {
            count++;
            at++;
        }

        return count;
    }

    public static X509Certificate2 LoadCertificate(string certPath, string keyPath)
    {
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        // PKCS#12 round trip: SslStream needs a certificate whose key is not ephemeral.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    public X509Certificate2Collection TrustedCa() => [X509CertificateLoader.LoadCertificateFromFile(Provisioner.CaCertificatePath)];

    /// <summary>A client for a device bundle (certificate or password), connected, no auto-reconnect.</summary>
    public async Task<TestClient> ConnectDeviceAsync(DeviceBundle bundle, string? clientId = null, bool cleanStart = true, uint sessionExpiry = 0)
    {
        var client = bundle.Authentication == DeviceAuthentication.Certificate
            ? CreateClient(CertificatePort, LoadCertificate(bundle.CertificatePath!, bundle.KeyPath!), clientId ?? bundle.DeviceId, cleanStart, sessionExpiry)
            : CreateClient(PasswordPort, null, clientId ?? bundle.DeviceId, cleanStart, sessionExpiry, bundle.DeviceId, bundle.Password);
        return await client.ConnectAsync();
    }

    public async Task<TestClient> ConnectHubAsync(string clientId = "hub-1")
    {
        HubCredentials hub = Provisioner.Hub;
        return await CreateClient(CertificatePort, LoadCertificate(hub.CertificatePath, hub.KeyPath), clientId, true, 0).ConnectAsync();
    }

    public TestClient CreateClient(int port, X509Certificate2? certificate, string clientId, bool cleanStart, uint sessionExpiry, string? username = null, string? password = null) =>
        new(new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp("127.0.0.1", port),
            Tls = new MqttTlsOptions { TargetHost = "localhost", TrustedCertificateAuthorities = TrustedCa(), ClientCertificate = certificate },
            ClientId = clientId,
            CleanStart = cleanStart,
            SessionExpiryInterval = sessionExpiry,
            Username = username,
            Password = password is null ? null : Encoding.UTF8.GetBytes(password),
            AutoReconnect = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        }));

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        Provisioner.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Cleaned with the temp dir.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>An MQTT client whose received messages land in a channel.</summary>
public sealed class TestClient : IAsyncDisposable
{
    private readonly Channel<MqttApplicationMessage> _received = Channel.CreateUnbounded<MqttApplicationMessage>();

    public TestClient(MqttClient client)
    {
        Client = client;
        client.MessageHandler = (m, _) => { _received.Writer.TryWrite(m); return ValueTask.CompletedTask; };
    }

    public MqttClient Client { get; }

    public MqttConnectResult? Connected { get; private set; }

    public async Task<TestClient> ConnectAsync()
    {
        try
        {
            Connected = await Client.ConnectAsync();
            return this;
        }
        catch
        {
            await Client.DisposeAsync();
            throw;
        }
    }

    public Task<MqttPublishResult> PublishAsync(string topic, string payload, bool retain = false) =>
        Client.PublishAsync(new MqttApplicationMessage { Topic = topic, Payload = Encoding.UTF8.GetBytes(payload), Retain = retain });

    /// <summary>Next message, bounded so a broken test fails instead of hanging (not a timing assertion).</summary>
    public async Task<MqttApplicationMessage> ReceiveAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        return await _received.Reader.ReadAsync(bound.Token);
    }

    public bool TryReceive(out MqttApplicationMessage? message) => _received.Reader.TryRead(out message);

    public ValueTask DisposeAsync() => Client.DisposeAsync();
}
