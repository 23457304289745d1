using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeAgent.Agent.Cli;

/// <summary>
/// <c>edgeagent drift show</c>: per input feature of the running model, the newest drift snapshot's PSI (with a bar
/// against the 0.25 "significant" band), KS statistic, normalized Wasserstein-1 and verdict, plus a sparkline of
/// PSI over the last snapshots. <c>--json</c> prints the agent's answer.
/// </summary>
internal static class DriftCommand
{
    public static Command Create()
    {
        var config = ConfigCommand.ConfigOption();
        var json = StatusCommand.JsonOption();
        var show = new Command("show", "Per-feature drift (PSI, KS, W1) of the running model against its reference profile") { config, json };
        StatusCommand.SetControlAction(show, config, json, async (client, _, asJson, ct) =>
        {
            var drift = await StatusCommand.InvokeAsync(client, "drift.show", ct);
            if (asJson) JsonOutput.Write(drift.WriteTo);
            else Console.Out.Write(Format(drift));
            return CliRunner.Ok;
        });
        return new Command("drift", "Input drift of the running model") { show };
    }

    internal static string Format(JsonElement d)
    {
        var b = new StringBuilder();
        string model = d.GetProperty("model").GetString() ?? "?";
        long snapshots = d.GetProperty("snapshots").GetInt64();
        bool reference = d.GetProperty("referenceProfile").GetBoolean();
        b.AppendLine(CultureInfo.InvariantCulture, $"model {model}: {snapshots} drift snapshot(s){(reference ? "" : "; no reference profile in the bundle, so no scores")}");
        var features = d.GetProperty("features");
        if (features.GetArrayLength() == 0)
        {
            b.AppendLine("no snapshot yet: the first is taken after pipeline.drift.snapshotInterval (or snapshotEveryWindows)");
            return b.ToString();
        }
        b.AppendLine($"{"feature",-12} {"PSI",7} {"",-20} {"KS",6} {"W1",6}  {"verdict",-11} history");
        foreach (var f in features.EnumerateArray())
        {
            string name = f.GetProperty("feature").GetString() ?? "?";
            if (f.GetProperty("psi").ValueKind != JsonValueKind.Number)
            {
                b.AppendLine(CultureInfo.InvariantCulture, $"{name,-12} {"-",7} {"",-20} {"-",6} {"-",6}  {"unscored",-11} n={f.GetProperty("count").GetInt64()}");
                continue;
            }
            double psi = f.GetProperty("psi").GetDouble();
            string verdict = !f.GetProperty("sufficientData").GetBoolean() ? "few-data" : f.GetProperty("drifted").GetBoolean() ? "DRIFTED" : "ok";
            var history = f.GetProperty("psiHistory").EnumerateArray().Select(v => v.GetDouble()).ToList();
            b.AppendLine(CultureInfo.InvariantCulture,
                $"{name,-12} {psi,7:0.000} {Bar(psi, 0.5, 20),-20} {f.GetProperty("ks").GetDouble(),6:0.000} {f.GetProperty("w1").GetDouble(),6:0.000}  {verdict,-11} {Sparkline(history)}");
        }
        b.AppendLine("PSI bar: full at 0.5; bands < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant");
        return b.ToString();
    }

    /// <summary>A horizontal bar of <paramref name="width"/> cells, full at <paramref name="full"/>, in eighth-block steps.</summary>
    internal static string Bar(double value, double full, int width)
    {
        if (!(value > 0)) return "";
        double cells = Math.Min(1, value / full) * width;
        int whole = (int)cells;
        int eighths = (int)Math.Round((cells - whole) * 8);
        var sb = new StringBuilder(new string('█', whole));
        if (eighths > 0 && whole < width) sb.Append("▏▎▍▌▋▊▉█"[eighths - 1]);
        return sb.ToString();
    }

    /// <summary>One block character per value, scaled between 0 and the largest value (at least 0.25 so noise stays flat).</summary>
    internal static string Sparkline(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return "";
        const string Levels = "▁▂▃▄▅▆▇█";
        double max = Math.Max(0.25, values.Max());
        return string.Concat(values.Select(v => Levels[(int)Math.Clamp(Math.Round(v / max * (Levels.Length - 1)), 0, Levels.Length - 1)]));
    }
}
