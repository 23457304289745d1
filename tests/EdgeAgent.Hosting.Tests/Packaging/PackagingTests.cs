using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Tests.Support;

namespace EdgeAgent.Hosting.Tests.Packaging;

/// <summary>Builds the .deb once from a publish directory holding a real ELF executable and the real ONNX Runtime library.</summary>
public sealed class DebFixture : IAsyncLifetime
{
    public TempDirectory Dir { get; } = new();
    public string Repo { get; } = ChildRun.RepositoryRoot();
    public string Publish => Dir.Combine("publish");
    public string Deb { get; private set; } = "";
    public string Extracted => Dir.Combine("root");

    public static readonly Dictionary<string, string> FastCompression = new() { ["DEB_COMPRESSION"] = "gzip", ["DEB_COMPRESSION_LEVEL"] = "1" };

    public static string OrtLibrary()
    {
        string cache = Environment.GetEnvironmentVariable("EDGEAGENT_ORT_CACHE")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "edgeagent", "ort");
        string lib = Path.Combine(cache, "1.30.0", "linux-x64", "libonnxruntime.so.1");
        Assert.True(File.Exists(lib), $"{lib} missing: run ./build.sh prereqs to fetch ONNX Runtime");
        return lib;
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Publish);
        // Any real x86-64 executable stands in for the published agent: packaging does not run it.
        File.Copy("/bin/true", Path.Combine(Publish, "edgeagent"));
        File.Copy(OrtLibrary(), Path.Combine(Publish, "libonnxruntime.so.1"));
        File.WriteAllText(Path.Combine(Publish, "edgeagent.deps.json"), "{}");
        File.WriteAllText(Path.Combine(Publish, "edgeagent.pdb"), "symbols");
        var r = await ChildRun.RunAsync("bash", [Path.Combine(Repo, "packaging", "build-deb.sh"), Publish, Dir.Combine("out")], FastCompression);
        Assert.True(r.ExitCode == 0, r.All);
        Deb = r.Stdout.Trim();
        var x = await ChildRun.RunAsync("dpkg-deb", ["-x", Deb, Extracted]);
        Assert.True(x.ExitCode == 0, x.All);
    }

    public Task DisposeAsync()
    {
        Dir.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class PackagingTests(DebFixture deb) : IClassFixture<DebFixture>
{
    [Fact]
    public async Task The_package_metadata_names_version_architecture_and_dependencies()
    {
        Assert.EndsWith("edgeagent_0.1.0_amd64.deb", deb.Deb);
        var info = await ChildRun.RunAsync("dpkg-deb", ["--info", deb.Deb]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains(" Package: edgeagent\n", info.Stdout);
        Assert.Contains(" Version: 0.1.0\n", info.Stdout);
        Assert.Contains(" Architecture: amd64\n", info.Stdout);
        Assert.Matches(@" Depends: adduser, .*libstdc\+\+6", info.Stdout);
        Assert.Matches(@" Installed-Size: \d{5,}\n", info.Stdout);
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
            Assert.Matches($@"\d+ bytes, +\d+ lines +\* +{script} +#!/bin/sh", info.Stdout);
        var conffiles = await ChildRun.RunAsync("dpkg-deb", ["--info", deb.Deb, "conffiles"]);
        Assert.Equal("/etc/edgeagent/agent.json\n", conffiles.Stdout);
    }

    [Fact]
    public async Task The_package_contents_have_the_documented_layout_owners_and_modes()
    {
        var contents = await ChildRun.RunAsync("dpkg-deb", ["--contents", deb.Deb]);
        Assert.Equal(0, contents.ExitCode);
        var entries = contents.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(p => p[5].TrimStart('.'), p => (Mode: p[0], Owner: p[1], Target: p.Length > 7 ? p[7] : null));
        Assert.All(entries.Values, e => Assert.Equal("root/root", e.Owner));
        Assert.Equal("-rwxr-xr-x", entries["/usr/lib/edgeagent/edgeagent"].Mode);
        Assert.Equal("-rwxr-xr-x", entries["/usr/lib/edgeagent/libonnxruntime.so.1"].Mode);
        Assert.Equal("-rw-r--r--", entries["/usr/lib/edgeagent/edgeagent.deps.json"].Mode);
        Assert.Equal(("lrwxrwxrwx", "../lib/edgeagent/edgeagent"), (entries["/usr/bin/edgeagent"].Mode, entries["/usr/bin/edgeagent"].Target));
        Assert.Equal("-rw-r-----", entries["/etc/edgeagent/agent.json"].Mode);
        Assert.Equal("-rw-r--r--", entries["/lib/systemd/system/edgeagent.service"].Mode);
        Assert.Contains("/lib/udev/rules.d/60-edgeagent-gpio.rules", entries.Keys);
        Assert.Contains("/usr/share/doc/edgeagent/INSTALL.md", entries.Keys);
        Assert.DoesNotContain("/usr/lib/edgeagent/edgeagent.pdb", entries.Keys);
        // The ONNX Runtime inside is byte-for-byte the pinned library.
        Assert.Equal(File.ReadAllBytes(DebFixture.OrtLibrary()), File.ReadAllBytes(Path.Combine(deb.Extracted, "usr/lib/edgeagent/libonnxruntime.so.1")));
    }

    [Fact]
    public async Task The_packaged_unit_passes_systemd_analyze_verify()
    {
        string? tool = ChildRun.Which("systemd-analyze");
        Assert.True(tool is not null, "systemd-analyze is missing: install the Debian package systemd (build.sh lists it)");
        // Verify inside a root made of the extracted package plus the host's own units (targets the unit
        // refers to), so ExecStart resolves to the packaged /usr/bin/edgeagent.
        string root = deb.Extracted;
        CopyDirectory("/lib/systemd/system", Path.Combine(root, "lib/systemd/system"));
        var r = await ChildRun.RunAsync(tool, ["verify", "--man=no", $"--root={root}", "/lib/systemd/system/edgeagent.service"]);
        Assert.True(r.ExitCode == 0 && r.All.Trim().Length == 0, $"systemd-analyze verify: exit {r.ExitCode}\n{r.All}");
    }

    [Fact]
    public async Task systemd_analyze_verify_would_catch_a_broken_unit()
    {
        string? tool = ChildRun.Which("systemd-analyze");
        Assert.True(tool is not null, "systemd-analyze is missing: install the Debian package systemd");
        using var dir = new TempDirectory();
        string unit = dir.File("edgeagent.service", File.ReadAllText(Path.Combine(deb.Repo, "packaging/systemd/edgeagent.service"))
            .Replace("WatchdogSec=30s", "WatchdogSecs=30s"));
        var r = await ChildRun.RunAsync(tool, ["verify", "--man=no", unit]);
        Assert.Contains("Unknown key 'WatchdogSecs'", r.All);
    }

    [Fact]
    public void The_unit_declares_notify_watchdog_directories_hardening_limits_and_gpio_access()
    {
        var lines = File.ReadAllLines(Path.Combine(deb.Extracted, "lib/systemd/system/edgeagent.service"))
            .Where(l => l.Contains('=') && !l.StartsWith('#')).ToList();
        string[] required =
        [
            "Type=notify", "WatchdogSec=30s", "Restart=on-failure", $"RestartPreventExitStatus={AgentConfigurationException.ExitCode}", "StateDirectory=edgeagent", "RuntimeDirectory=edgeagent",
            "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "MemoryMax=256M", "CPUQuota=80%",
            "DeviceAllow=char-gpiochip rw", "SupplementaryGroups=gpio dialout", "User=edgeagent", "ExecStart=/usr/bin/edgeagent run",
        ];
        Assert.All(required, r => Assert.Contains(r, lines));
    }

    [Fact]
    public async Task Maintainer_scripts_are_valid_shell()
    {
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
        {
            var r = await ChildRun.RunAsync("sh", ["-n", Path.Combine(deb.Repo, "packaging/debian", script)]);
            Assert.True(r.ExitCode == 0, $"{script}: {r.All}");
        }
    }

    [Fact]
    public async Task A_publish_directory_for_another_architecture_is_refused()
    {
        var r = await ChildRun.RunAsync("bash", [Path.Combine(deb.Repo, "packaging/build-deb.sh"), deb.Publish, deb.Dir.Combine("out-arm"), "arm64"], DebFixture.FastCompression);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("is built for 'amd64', not arm64: publish with -r linux-arm64", r.Stderr);
        Assert.False(Directory.Exists(deb.Dir.Combine("out-arm")) && Directory.EnumerateFiles(deb.Dir.Combine("out-arm")).Any());
    }

    [Fact]
    public async Task A_publish_directory_without_onnx_runtime_is_refused()
    {
        using var dir = new TempDirectory();
        File.Copy("/bin/true", dir.Combine("edgeagent"));
        var r = await ChildRun.RunAsync("bash", [Path.Combine(deb.Repo, "packaging/build-deb.sh"), dir.Path, dir.Combine("out")], DebFixture.FastCompression);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("libonnxruntime.so.1 not found", r.Stderr);
    }

    [Fact]
    public void The_packaged_configuration_refuses_to_start_until_the_placeholders_are_replaced()
    {
        string packaged = File.ReadAllText(Path.Combine(deb.Extracted, "etc/edgeagent/agent.json"));
        using var dir = new TempDirectory();
        AgentConfigurationResult Load(string json) => AgentConfiguration.Load(new AgentConfigurationSources
        {
            ConfigFile = dir.File("agent.json", json), ConfigFileRequired = true, Environment = new Dictionary<string, string?>(),
        });
        var placeholder = Load(packaged);
        Assert.Equal(["deviceId", "mqtt.host"], placeholder.Problems.Where(p => p.Severity == ConfigProblemSeverity.Error).Select(p => p.Path).Order());
        Assert.All(placeholder.Problems, p => Assert.Contains("CHANGE-ME", p.Message));

        var configured = Load(packaged.Replace("\"deviceId\": \"CHANGE-ME\"", "\"deviceId\": \"pump-07\"").Replace("\"host\": \"CHANGE-ME\"", "\"host\": \"broker.local\""));
        Assert.True(configured.IsValid, string.Join("\n", configured.Problems));
        Assert.Empty(configured.Problems);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from))
        {
            string dest = Path.Combine(to, Path.GetFileName(f));
            if (!File.Exists(dest)) File.Copy(f, dest);
        }
    }
}
