namespace EdgeAgent.Outbox.Drain;

/// <summary>
/// Token bucket on a <see cref="TimeProvider"/> clock. Tokens may go negative (a batch larger than
/// the balance is allowed once and paid back before the next one), which keeps batches whole.
/// </summary>
/// <remarks>Not thread-safe; used by the drainer loop only.</remarks>
internal sealed class TokenBucket
{
    private readonly double _rate;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private double _tokens;
    private long _last;

    public TokenBucket(double ratePerSecond, double burst, TimeProvider time)
    {
        _rate = ratePerSecond;
        _burst = burst;
        _time = time;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    public double Available
    {
        get
        {
            Refill();
            return _tokens;
        }
    }

    public void Take(double amount)
    {
        Refill();
        _tokens -= amount;
    }

    /// <summary>Time until at least <paramref name="amount"/> tokens (capped at the burst) are available.</summary>
    public TimeSpan TimeUntil(double amount)
    {
        Refill();
        var missing = Math.Min(amount, _burst) - _tokens;
        return missing <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(missing / _rate);
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + _time.GetElapsedTime(_last, now).TotalSeconds * _rate);
        _last = now;
    }
}
