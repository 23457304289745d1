namespace EdgeAgent.Pipeline.Cloud;

/// <summary>Outcome of <see cref="CloudRequestBudget.TryAcquire"/>.</summary>
public enum BudgetDecision
{
    Granted,
    RateLimited,
    DailyBudgetExhausted,
}

/// <summary>Limits of <see cref="CloudRequestBudget"/>.</summary>
public sealed record CloudBudgetOptions
{
    /// <summary>Sustained requests per second (token refill rate).</summary>
    public double RequestsPerSecond { get; init; } = 5;
    /// <summary>Tokens the bucket holds (largest burst).</summary>
    public int Burst { get; init; } = 10;
    /// <summary>Requests per UTC day; null = unlimited. Cloud inference costs money: cap it.</summary>
    public long? DailyBudget { get; init; } = 10_000;

    public IReadOnlyList<string> Validate(string prefix = "pipeline.cloud.budget")
    {
        var problems = new List<string>();
        if (!(RequestsPerSecond > 0) || double.IsInfinity(RequestsPerSecond)) problems.Add($"{prefix}.requestsPerSecond: must be a positive number (is {RequestsPerSecond})");
        if (Burst < 1) problems.Add($"{prefix}.burst: must be at least 1 (is {Burst})");
        if (DailyBudget is < 0) problems.Add($"{prefix}.dailyBudget: must not be negative (is {DailyBudget})");
        return problems;
    }
}

/// <summary>
/// Rate and cost cap of the cloud tier: a token bucket (<see cref="CloudBudgetOptions.RequestsPerSecond"/>,
/// <see cref="CloudBudgetOptions.Burst"/>) and a request budget per UTC day. A denied request is not retried:
/// the local answer stands and the case is queued for labeling.
/// </summary>
/// <remarks>Thread-safe (one lock, no allocation). Time comes from the injected <see cref="TimeProvider"/>.</remarks>
public sealed class CloudRequestBudget
{
    private readonly CloudBudgetOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _lastRefill;
    private DateOnly _day;
    private long _usedToday;

    /// <exception cref="ArgumentException">The options are invalid (message lists every problem).</exception>
    public CloudRequestBudget(CloudBudgetOptions options, TimeProvider? time = null)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems), nameof(options));
        _options = options;
        _time = time ?? TimeProvider.System;
        _tokens = options.Burst;
        _lastRefill = _time.GetTimestamp();
        _day = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
    }

    /// <summary>Requests granted so far in the current UTC day.</summary>
    public long UsedToday { get { lock (_gate) return _usedToday; } }

    /// <summary>Takes one token and one unit of today's budget, or says why not (taking nothing).</summary>
    public BudgetDecision TryAcquire()
    {
        lock (_gate)
        {
            var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
            if (today != _day)
            {
                _day = today;
                _usedToday = 0;
            }
            long now = _time.GetTimestamp();
            _tokens = Math.Min(_options.Burst, _tokens + _time.GetElapsedTime(_lastRefill, now).TotalSeconds * _options.RequestsPerSecond);
            _lastRefill = now;
            if (_options.DailyBudget is { } daily && _usedToday >= daily) return BudgetDecision.DailyBudgetExhausted;
            if (_tokens < 1) return BudgetDecision.RateLimited;
            _tokens -= 1;
            _usedToday++;
            return BudgetDecision.Granted;
        }
    }
}
