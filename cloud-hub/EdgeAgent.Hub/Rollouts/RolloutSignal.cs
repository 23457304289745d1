namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// Wakes the <see cref="RolloutEngine"/> before its next tick: new update transitions arrived, or an
/// operator changed a rollout through the API. Nudges coalesce (one pending wake-up at most).
/// Thread-safe; <see cref="Nudge"/> never blocks.
/// </summary>
public sealed class RolloutSignal
{
    private readonly SemaphoreSlim _pending = new(0, 1);

    /// <summary>Number of nudges received (for tests and diagnostics).</summary>
    public long Nudges => Interlocked.Read(ref _nudges);

    private long _nudges;

    public void Nudge()
    {
        Interlocked.Increment(ref _nudges);
        try
        {
            _pending.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already pending: the engine will look at everything anyway.
        }
    }

    /// <summary>Completes at the next nudge (at once when one is pending) or after <paramref name="timeout"/> on <paramref name="time"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var wait = _pending.WaitAsync(cts.Token);
        var delay = Task.Delay(timeout, time, cts.Token);
        await Task.WhenAny(wait, delay).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        try
        {
            // A permit taken after the timeout won is not lost: the caller evaluates everything now anyway.
            await wait.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        ct.ThrowIfCancellationRequested();
    }
}
