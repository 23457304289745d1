using System.Text;
using System.Text.Json.Serialization;

namespace EdgeAgent.Hosting.Doctor;

/// <summary>Outcome of one check. <see cref="DoctorStatus.Warn"/> means the agent runs but something will bite later.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DoctorStatus>))]
public enum DoctorStatus { Ok, Warn, Fail }

/// <summary>One check's verdict, with what to do about it when it is not ok.</summary>
public sealed record DoctorResult(string Check, DoctorStatus Status, string Message, string? Fix = null)
{
    public static DoctorResult Ok(string check, string message) => new(check, DoctorStatus.Ok, message);
}

/// <summary>A diagnostic the <c>edgeagent doctor</c> verb (and the <c>doctor</c> control command) runs.</summary>
/// <remarks>Implementations return their verdict; an exception or a timeout is turned into a failure by <see cref="DoctorRunner"/>.</remarks>
public interface IDoctorCheck
{
    string Name { get; }
    Task<DoctorResult> RunAsync(CancellationToken cancellationToken);
}

/// <summary>Runs checks one after another, each bounded in time, and formats the report.</summary>
public static class DoctorRunner
{
    public static async Task<IReadOnlyList<DoctorResult>> RunAsync(IEnumerable<IDoctorCheck> checks, TimeSpan? perCheckTimeout = null,
        CancellationToken cancellationToken = default)
    {
        var timeout = perCheckTimeout ?? TimeSpan.FromSeconds(10);
        var results = new List<DoctorResult>();
        foreach (var check in checks)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            try
            {
                results.Add(await check.RunAsync(cts.Token).WaitAsync(cts.Token).ConfigureAwait(false));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                results.Add(new(check.Name, DoctorStatus.Fail, $"did not finish within {timeout.TotalSeconds:0.#} s", "run the check again; if it keeps hanging, see the agent log"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                results.Add(new(check.Name, DoctorStatus.Fail, $"the check itself failed: {e.Message}"));
            }
        }
        return results;
    }

    /// <summary>Worst status of the report (exit code material: ok 0, warn 1, fail 2).</summary>
    public static DoctorStatus Overall(IEnumerable<DoctorResult> results) => results.Select(r => r.Status).DefaultIfEmpty(DoctorStatus.Ok).Max();

    /// <summary>One line per check, fix hints indented below.</summary>
    public static string Format(IEnumerable<DoctorResult> results)
    {
        var sb = new StringBuilder();
        foreach (var r in results)
        {
            sb.Append(r.Status switch { DoctorStatus.Ok => "[ ok ] ", DoctorStatus.Warn => "[warn] ", _ => "[FAIL] " })
              .Append(r.Check).Append(": ").Append(r.Message).Append('\n');
            if (r.Fix is not null) sb.Append("       fix: ").Append(r.Fix).Append('\n');
        }
        return sb.ToString();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DoctorResult[]))]
[JsonSerializable(typeof(IReadOnlyList<DoctorResult>))]
public sealed partial class DoctorJsonContext : JsonSerializerContext;
