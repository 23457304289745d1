namespace EdgeAgent.Mqtt.Client;

/// <summary>
/// Counts unacknowledged QoS 1/2 publishes and makes publishers wait while the count is at the
/// limit (the broker's Receive Maximum, MQTT 5 §4.9). The limit can change on reconnect; messages
/// already in flight stay counted. Thread safe. Waiters are served in FIFO order.
/// </summary>
internal sealed class InflightWindow(int limit)
{
    private readonly object _sync = new();
    private readonly Queue<TaskCompletionSource> _waiters = new();
    private int _limit = limit;
    private int _count;

    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _count;
            }
        }
    }

    /// <summary>Highest count ever reached (diagnostics and tests).</summary>
    public int HighWaterMark { get; private set; }

    public int Limit
    {
        get
        {
            lock (_sync)
            {
                return _limit;
            }
        }
    }

    public void SetLimit(int limit)
    {
        lock (_sync)
        {
            _limit = limit;
            ReleaseWaitersLocked();
        }
    }

    /// <summary>Takes a slot; waits (cancellably) when the window is full.</summary>
    public ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_sync)
        {
            if (_count < _limit && _waiters.Count == 0)
            {
                Take();
                return ValueTask.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(waiter);
        }

        return new ValueTask(WaitAsync(waiter, cancellationToken));
    }

    private async Task WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        try
        {
            await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_sync)
            {
                // If the slot was granted just as we were cancelled, hand it back.
                if (!waiter.TrySetCanceled())
                {
                    _count--;
                    ReleaseWaitersLocked();
                }
            }

            throw;
        }
    }

    public void Release()
    {
        lock (_sync)
        {
            _count--;
            ReleaseWaitersLocked();
        }
    }

    private void ReleaseWaitersLocked()
    {
        while (_count < _limit && _waiters.TryDequeue(out TaskCompletionSource? next))
        {
            if (next.TrySetResult())
            {
                Take();
            }
        }
    }

    private void Take()
    {
        _count++;
        if (_count > HighWaterMark)
        {
            HighWaterMark = _count;
        }
    }
}
