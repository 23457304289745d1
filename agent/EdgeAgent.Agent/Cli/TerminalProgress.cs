namespace EdgeAgent.Agent.Cli;

/// <summary>
/// A one-line progress bar on stderr for long operations, drawn only when stdout is a terminal (a script that
/// captures the output or pipes <c>--json</c> sees nothing of it). Not thread-safe: one operation at a time.
/// </summary>
internal sealed class TerminalProgress(string what, int total) : IDisposable
{
    private const int Width = 30;
    private readonly bool _enabled = !Console.IsOutputRedirected && !Console.IsErrorRedirected;
    private int _done;

    /// <summary>Marks one more step done and shows <paramref name="step"/> next to the bar.</summary>
    public void Step(string step)
    {
        _done = Math.Min(total, _done + 1);
        if (!_enabled) return;
        int filled = total == 0 ? Width : _done * Width / total;
        string label = step.Length > 40 ? "…" + step[^39..] : step;
        Console.Error.Write($"\r{what} [{new string('#', filled)}{new string('.', Width - filled)}] {_done}/{total} {label,-40}");
    }

    public void Dispose()
    {
        if (_enabled) Console.Error.Write($"\r{new string(' ', what.Length + Width + 60)}\r");
    }
}
