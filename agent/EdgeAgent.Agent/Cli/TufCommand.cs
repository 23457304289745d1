using System.CommandLine;
using EdgeAgent.Trust.Cli;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent tuf</c>: the standard TUF client command line (tuf-conformance CLIENT-CLI.md), so
/// the device's update client can be driven and tested like any other TUF client. Options come
/// before the verb:
/// <code>
/// edgeagent tuf --metadata-dir D init ROOT_JSON
/// edgeagent tuf --metadata-url U --metadata-dir D refresh
/// edgeagent tuf --metadata-url U --metadata-dir D --target-name P [--target-name P2] --target-dir T --target-base-url B download
/// </code>
/// Exit code 0 on success, 1 on any failure (the reason goes to stderr).
/// </summary>
public static class TufCommand
{
    public static Command Create()
    {
        var metadataDir = new Option<string>("--metadata-dir") { Description = "Directory holding the trusted <role>.json files and the trust state" };
        var metadataUrl = new Option<string>("--metadata-url") { Description = "Base URL of the repository metadata" };
        var targetNames = new Option<string[]>("--target-name") { Description = "Target path to download (repeatable)", AllowMultipleArgumentsPerToken = false };
        var targetDir = new Option<string>("--target-dir") { Description = "Directory to write downloaded targets to (file name = URL-quoted target path)" };
        var targetBaseUrl = new Option<string>("--target-base-url") { Description = "Base URL of the targets" };
        var daysInFuture = new Option<double>("--days-in-future") { Description = "Pretend the clock is this many days ahead (testing expiry)" };

        var tuf = new Command("tuf", "TUF 1.0 client: init / refresh / download (exit 0 success, 1 failure)");
        foreach (var o in new Option[] { metadataDir, metadataUrl, targetNames, targetDir, targetBaseUrl, daysInFuture }) tuf.Options.Add(o);

        var rootArg = new Argument<string>("TRUSTED_ROOT") { Description = "root.json obtained through a trusted channel" };
        var init = new Command("init", "Install a trusted root.json (no network)") { rootArg };
        init.SetAction(async (parse, ct) =>
        {
            if (Require(parse.GetValue(metadataDir), "--metadata-dir") is not { } dir) return 1;
            return await TufClientVerbs.InitAsync(dir, parse.GetValue(rootArg)!, Console.Out, Console.Error, Clock(parse.GetValue(daysInFuture)), ct);
        });

        var refresh = new Command("refresh", "Update the trusted metadata from --metadata-url");
        refresh.SetAction(async (parse, ct) =>
        {
            if (Require(parse.GetValue(metadataDir), "--metadata-dir") is not { } dir || RequireUrl(parse.GetValue(metadataUrl), "--metadata-url") is not { } url) return 1;
            return await TufClientVerbs.RefreshAsync(dir, url, Console.Out, Console.Error, Clock(parse.GetValue(daysInFuture)), null, ct);
        });

        var download = new Command("download", "Refresh, then download and verify each --target-name into --target-dir");
        download.SetAction(async (parse, ct) =>
        {
            if (Require(parse.GetValue(metadataDir), "--metadata-dir") is not { } dir || RequireUrl(parse.GetValue(metadataUrl), "--metadata-url") is not { } url
                || Require(parse.GetValue(targetDir), "--target-dir") is not { } tdir || RequireUrl(parse.GetValue(targetBaseUrl), "--target-base-url") is not { } turl)
                return 1;
            return await TufClientVerbs.DownloadAsync(dir, url, parse.GetValue(targetNames) ?? [], tdir, turl, Console.Out, Console.Error,
                Clock(parse.GetValue(daysInFuture)), null, ct);
        });

        tuf.Subcommands.Add(init);
        tuf.Subcommands.Add(refresh);
        tuf.Subcommands.Add(download);
        return tuf;
    }

    private static TimeProvider? Clock(double days) => days == 0 ? null : TufClientVerbs.ShiftedClock(days);

    private static Uri? RequireUrl(string? value, string name)
    {
        if (Require(value, name) is not { } text) return null;
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)) return uri;
        Console.Error.WriteLine($"tuf: {name} must be an absolute http(s) URL, got '{text}'.");
        return null;
    }

    private static T? Require<T>(T? value, string name) where T : class
    {
        if (value is null) Console.Error.WriteLine($"tuf: {name} is required for this command.");
        return value;
    }
}
