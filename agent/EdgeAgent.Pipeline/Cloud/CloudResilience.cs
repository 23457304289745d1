using EdgeAgent.Mqtt;
using Polly;
using Polly.CircuitBreaker;

namespace EdgeAgent.Pipeline.Cloud;

/// <summary>Circuit breaker settings of the cloud tier.</summary>
public sealed record CloudCircuitOptions
{
    /// <summary>Failures needed (within <see cref="SamplingDuration"/>, at <see cref="FailureRatio"/>) before the circuit opens. Polly requires at least 2.</summary>
    public int MinimumThroughput { get; init; } = 5;
    public double FailureRatio { get; init; } = 0.5;
    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long the circuit stays open before one trial request is let through (half-open).</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Builds the cloud tier's <see cref="ResiliencePipeline"/>: a circuit breaker over the failures that mean
/// "the cloud path is unhealthy" (timeouts, not connected, connection lost, broker refusal, malformed answers).
/// Build it once (e.g. register it in DI) and inject it into <see cref="CloudTier"/>; CONVENTIONS.md asks for
/// resilience configured once, not ad-hoc loops. No retry on purpose: a retried hard case would arrive after
/// the device already had to act on the local answer.
/// </summary>
public static class CloudResilience
{
    /// <summary>Creates the pipeline. <paramref name="onStateChange"/> is told "opened"/"half-opened"/"closed" (for logs/metrics).</summary>
    public static ResiliencePipeline Create(CloudCircuitOptions options, TimeProvider? time = null, Action<string>? onStateChange = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var breaker = new CircuitBreakerStrategyOptions
        {
            MinimumThroughput = options.MinimumThroughput,
            FailureRatio = options.FailureRatio,
            SamplingDuration = options.SamplingDuration,
            BreakDuration = options.BreakDuration,
            ShouldHandle = new PredicateBuilder()
                .Handle<TimeoutException>()
                .Handle<MqttClientNotConnectedException>()
                .Handle<MqttConnectionLostException>()
                .Handle<MqttPublishException>()
                .Handle<CloudTierResponseException>(),
            OnOpened = _ => { onStateChange?.Invoke("opened"); return ValueTask.CompletedTask; },
            OnHalfOpened = _ => { onStateChange?.Invoke("half-opened"); return ValueTask.CompletedTask; },
            OnClosed = _ => { onStateChange?.Invoke("closed"); return ValueTask.CompletedTask; },
        };
        return new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
            .AddCircuitBreaker(breaker)
            .Build();
    }
}
