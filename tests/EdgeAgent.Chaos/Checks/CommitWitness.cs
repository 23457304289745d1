using System.Collections.Concurrent;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Checks;

/// <summary>
/// Watches the running agent's outbox counters (<c>telemetry.stats</c> over the control socket, every
/// 100 ms) and remembers, per boot, the highest number of events the agent said it had committed.
/// That is the lower bound the delivery check holds the hub to: a boot killed with SIGKILL cannot be
/// asked afterwards, so the witness asks before. Thread-safe.
/// </summary>
public sealed class CommitWitness : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, OutboxSnapshot> _latest = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public CommitWitness(AgentDaemon agent)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                OutboxSnapshot? s = null;
                try
                {
                    if (agent.IsRunning) s = await agent.TryStatsAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
                if (s is not null)
                {
                    _latest.AddOrUpdate(s.BootId, s, (_, old) => s.AppendedEvents >= old.AppendedEvents ? s : old);
                    Last = s;
                }
                try { await Task.Delay(100, _stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        });
    }

    /// <summary>The most recent answer (any boot).</summary>
    public OutboxSnapshot? Last { get; private set; }

    /// <summary>Boot id → most events it reported committed.</summary>
    public IReadOnlyDictionary<string, long> CommittedAtLeast => _latest.ToDictionary(kv => kv.Key, kv => kv.Value.AppendedEvents);

    /// <summary>Waits until the agent answered for a boot other than <paramref name="previousBoot"/> (a restart is serving).</summary>
    public async Task<OutboxSnapshot> WaitForBootAsync(string? previousBoot, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Last is { } s && s.BootId != previousBoot) return s;
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
        throw new TimeoutException($"the agent did not answer telemetry.stats for a new boot within {timeout.TotalSeconds:0} s");
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
