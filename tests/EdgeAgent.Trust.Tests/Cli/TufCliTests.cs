using System.Diagnostics;
using EdgeAgent.Trust.Cli;
using EdgeAgent.Trust.Tests.Infrastructure;

namespace EdgeAgent.Trust.Tests.Cli;

/// <summary>
/// The standard TUF client CLI (tuf-conformance CLIENT-CLI.md) driven like a conformance harness
/// would: the built <c>edgeagent</c> as a child process against a repository over real HTTP.
/// </summary>
public sealed class TufCliTests
{
    private static async Task<(int Exit, string Stdout, string Stderr)> EdgeAgentAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "edgeagent"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    private static string[] JsonFiles(string dir) =>
        Directory.EnumerateFiles(dir, "*.json").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    /// <summary>A repository whose expiry is relative to the real clock (the child process uses it).</summary>
    private static async Task<TufTestBed> RealClockBedAsync()
    {
        var bed = await TufTestBed.CreateAsync();
        foreach (var role in new[] { "root", "timestamp", "snapshot", "targets" })
            bed.Repo.SetExpires(role, DateTimeOffset.UtcNow.AddDays(30));
        bed.Repo.AddTarget("dir/file name?.bin", "odd name"u8.ToArray());
        bed.Repo.Publish();
        bed.Sync();
        return bed;
    }

    [Fact]
    public async Task Init_refresh_download_through_the_edgeagent_binary()
    {
        await using var bed = await RealClockBedAsync();
        var dir = Path.Combine(bed.Directory, "cli-metadata");
        Directory.CreateDirectory(dir);
        var rootFile = Path.Combine(bed.Directory, "trusted-root.json");
        File.WriteAllBytes(rootFile, bed.Repo.Files["metadata/2.root.json"]);

        var init = await EdgeAgentAsync("tuf", "--metadata-dir", dir, "init", rootFile);
        Assert.True(init.Exit == 0, init.Stderr);
        Assert.Equal(["root.json"], JsonFiles(dir));

        var refresh = await EdgeAgentAsync("tuf", "--metadata-url", bed.Server.MetadataUri.ToString(), "--metadata-dir", dir, "refresh");
        Assert.True(refresh.Exit == 0, refresh.Stderr);
        Assert.Equal(["root.json", "snapshot.json", "targets.json", "timestamp.json"], JsonFiles(dir));
        Assert.Equal(bed.Repo.Files["metadata/timestamp.json"], File.ReadAllBytes(Path.Combine(dir, "timestamp.json")));

        var targetDir = Path.Combine(bed.Directory, "cli-targets");
        Directory.CreateDirectory(targetDir);
        var download = await EdgeAgentAsync("tuf", "--metadata-url", bed.Server.MetadataUri.ToString(), "--metadata-dir", dir,
            "--target-name", "models/kws/1.bundle", "--target-name", "dir/file name?.bin",
            "--target-dir", targetDir, "--target-base-url", bed.Server.TargetsUri.ToString(), "download");
        Assert.True(download.Exit == 0, download.Stderr);
        Assert.Equal("bundle-v1 payload", File.ReadAllText(Path.Combine(targetDir, "models%2Fkws%2F1.bundle")));
        Assert.Equal("odd name", File.ReadAllText(Path.Combine(targetDir, "dir%2Ffile%20name%3F.bin")));
        Assert.Equal(["root.json", "snapshot.json", "targets.json", "timestamp.json"], JsonFiles(dir));
    }

    [Fact]
    public async Task Refused_refresh_exits_1_with_the_reason_on_stderr()
    {
        await using var bed = await RealClockBedAsync();
        var dir = Path.Combine(bed.Directory, "cli-metadata");
        var rootFile = Path.Combine(bed.Directory, "trusted-root.json");
        File.WriteAllBytes(rootFile, bed.Repo.Files["metadata/2.root.json"]);
        Assert.Equal(0, (await EdgeAgentAsync("tuf", "--metadata-dir", dir, "init", rootFile)).Exit);
        bed.Server.Files["metadata/timestamp.json"] = bed.Repo.Files["metadata/2.snapshot.json"];

        var r = await EdgeAgentAsync("tuf", "--metadata-url", bed.Server.MetadataUri.ToString(), "--metadata-dir", dir, "refresh");
        Assert.Equal(1, r.Exit);
        Assert.Contains("'_type' is 'snapshot'", r.Stderr);
        Assert.Equal(["root.json"], JsonFiles(dir));
    }

    [Fact]
    public async Task Missing_options_and_unknown_targets_exit_1()
    {
        await using var bed = await RealClockBedAsync();
        var dir = Path.Combine(bed.Directory, "cli-metadata");
        Assert.Equal(1, (await EdgeAgentAsync("tuf", "refresh")).Exit);
        Assert.Equal(1, (await EdgeAgentAsync("tuf", "--metadata-dir", dir, "init", Path.Combine(bed.Directory, "no-such-root.json"))).Exit);
        Assert.False(File.Exists(Path.Combine(dir, "root.json")));

        var rootFile = Path.Combine(bed.Directory, "trusted-root.json");
        File.WriteAllBytes(rootFile, bed.Repo.Files["metadata/2.root.json"]);
        Assert.Equal(0, (await EdgeAgentAsync("tuf", "--metadata-dir", dir, "init", rootFile)).Exit);
        var r = await EdgeAgentAsync("tuf", "--metadata-url", bed.Server.MetadataUri.ToString(), "--metadata-dir", dir,
            "--target-name", "nope", "--target-dir", Path.Combine(bed.Directory, "t"), "--target-base-url", bed.Server.TargetsUri.ToString(), "download");
        Assert.Equal(1, r.Exit);
        Assert.Contains("No trusted targets role lists 'nope'", r.Stderr);
    }

    [Fact]
    public async Task Init_refuses_a_root_that_is_not_signed_by_its_own_threshold()
    {
        await using var bed = await TufTestBed.CreateAsync();
        var dir = Path.Combine(bed.Directory, "verbs");
        var rootFile = Path.Combine(bed.Directory, "bad-root.json");
        File.WriteAllBytes(rootFile, Craft.Resign(bed.Repo.RootBytes, s => s, Craft.Signers(bed.Repo.KeysOf("targets"))));
        var err = new StringWriter();
        Assert.Equal(1, await TufClientVerbs.InitAsync(dir, rootFile, TextWriter.Null, err, bed.Clock, CancellationToken.None));
        Assert.Contains("signatures", err.ToString());
        Assert.False(File.Exists(Path.Combine(dir, "root.json")));
    }

    [Fact]
    public async Task Download_verb_writes_nothing_when_the_target_is_substituted()
    {
        await using var bed = await TufTestBed.CreateAsync();
        foreach (var (path, bytes) in bed.Repo.Files.Where(f => f.Key.StartsWith("targets/", StringComparison.Ordinal)))
            bed.Server.Files[path] = bytes.Select(b => (byte)(b ^ 1)).ToArray();
        var targetDir = Path.Combine(bed.Directory, "out");
        var err = new StringWriter();
        var exit = await TufClientVerbs.DownloadAsync(bed.MetadataDir, bed.Server.MetadataUri, ["models/kws/1.bundle"], targetDir, bed.Server.TargetsUri,
            TextWriter.Null, err, bed.Clock, bed.Fetcher, CancellationToken.None);
        Assert.Equal(1, exit);
        Assert.Contains("does not match its pinned sha256", err.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(targetDir));
    }
}
