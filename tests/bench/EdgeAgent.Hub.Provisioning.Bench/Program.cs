using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeAgent.Hub.Provisioning.Fleet;

// Provisioning bench: what one 'edgehub devices add/revoke' costs at a given fleet size.
// Baseline (same run): issuing the same ECDSA P-256 client certificate in memory with no files.
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Hub.Provisioning.Bench -- [devices=1000] [revocations=200]
int devices = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
int revocations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
string root = Path.Combine(Path.GetTempPath(), "edgeagent-provbench-" + Guid.NewGuid().ToString("N")[..8]);

try
{
    // Baseline: key + certificate + PEM export, in memory.
    using ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    var caRequest = new CertificateRequest("CN=bench CA", caKey, HashAlgorithmName.SHA256);
    caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
    using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
    int baselineCount = Math.Min(devices, 500);
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < baselineCount; i++)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=dev-{i}", key, HashAlgorithmName.SHA256);
        using X509Certificate2 cert = request.Create(ca, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddYears(1), RandomNumberGenerator.GetBytes(16));
        _ = cert.ExportCertificatePem().Length + key.ExportPkcs8PrivateKeyPem().Length;
    }

    double baselineMs = sw.Elapsed.TotalMilliseconds / baselineCount;
    Console.WriteLine($"baseline: in-memory certificate issuance {baselineMs:0.000} ms/device ({baselineCount} devices)");

    sw.Restart();
    using FleetProvisioner fleet = await FleetProvisioner.OpenAsync(new ProvisioningOptions { Directory = root, BrokerHost = "mqtt.example.net" });
    Console.WriteLine($"open (CA, broker and hub certificates, config): {sw.Elapsed.TotalMilliseconds:0.0} ms");

    const int block = 100;
    var blocks = new List<(int Size, double MsPerDevice)>();
    for (int done = 0; done < devices; done += block)
    {
        sw.Restart();
        for (int i = done; i < Math.Min(devices, done + block); i++)
        {
            await fleet.AddDeviceAsync($"dev-{i}");
        }

        blocks.Add((Math.Min(devices, done + block), sw.Elapsed.TotalMilliseconds / Math.Min(block, devices - done)));
    }

    foreach ((int size, double ms) in blocks.Where((_, i) => i == 0 || i == blocks.Count - 1 || i == blocks.Count / 2))
    {
        Console.WriteLine($"add certificate device, fleet up to {size,6}: {ms:0.000} ms/device ({ms / baselineMs:0.0}x baseline)");
    }

    sw.Restart();
    for (int i = 0; i < 50; i++)
    {
        await fleet.AddDeviceAsync($"pw-{i}", DeviceAuthentication.Password);
    }

    Console.WriteLine($"add password device at fleet {devices + 50}: {sw.Elapsed.TotalMilliseconds / 50:0.000} ms/device");

    int toRevoke = Math.Min(revocations, devices);
    sw.Restart();
    for (int i = 0; i < toRevoke; i++)
    {
        await fleet.RevokeDeviceAsync($"dev-{i}");
    }

    Console.WriteLine($"revoke (CRL re-signed, grows to {toRevoke} entries): {sw.Elapsed.TotalMilliseconds / toRevoke:0.000} ms/device");
    Console.WriteLine($"registry.json {new FileInfo(Path.Combine(root, "registry.json")).Length / 1024.0:0} KiB, crl.pem {new FileInfo(fleet.Broker.CrlPath).Length / 1024.0:0.0} KiB");
}
finally
{
    if (Directory.Exists(root))
    {
        Directory.Delete(root, recursive: true);
    }
}
