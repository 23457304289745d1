using System.Text;
using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Outputs;

/// <summary>
/// One digital output line (a relay, a stack light). Implementations: <see cref="ValueFileGpioLine"/> here; a
/// GPIO character-device (v2 uAPI) implementation belongs with the sensors' chardev code and is not done yet.
/// </summary>
/// <remarks>Called from one pump task at a time; implementations need not be thread-safe.</remarks>
public interface IGpioOutputLine
{
    string Name { get; }
    ValueTask SetAsync(bool active, CancellationToken cancellationToken);
}

/// <summary>
/// Drives a line from results: active while the result's label is one of <c>activeLabels</c> (e.g.
/// <c>vibration_fault</c>), inactive otherwise. Writes only on change.
/// </summary>
public sealed class GpioResultOutput(IGpioOutputLine line, IReadOnlyCollection<string> activeLabels) : IResultOutput
{
    private readonly HashSet<string> _active = new(activeLabels, StringComparer.Ordinal);
    private bool? _state;

    public string Name => $"gpio:{line.Name}";

    public async ValueTask WriteAsync(PipelineResult result, CancellationToken cancellationToken)
    {
        bool active = _active.Contains(result.Label);
        if (_state == active) return;
        await line.SetAsync(active, cancellationToken).ConfigureAwait(false);
        _state = active;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// A line whose level is a file holding <c>1</c> or <c>0</c> — the format of a sysfs GPIO <c>value</c> file, a
/// file watched by another service, or a test. The file is rewritten in place (no temp+rename: sysfs files cannot be renamed).
/// </summary>
public sealed class ValueFileGpioLine(string path) : IGpioOutputLine
{
    public string Name { get; } = path;

    public async ValueTask SetAsync(bool active, CancellationToken cancellationToken)
    {
        try
        {
            await File.WriteAllTextAsync(Name, active ? "1\n" : "0\n", Encoding.ASCII, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"outputs.gpio: cannot write '{Name}': {e.Message}", e);
        }
    }
}
