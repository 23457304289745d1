namespace EdgeAgent.Sensors.Configuration;

/// <summary>The sensor configuration is unusable; <see cref="Problems"/> has one message per problem,
/// each starting with the configuration path (e.g. <c>sensors.gpio.chip: /dev/gpiochip9 does not exist</c>).</summary>
public sealed class SensorConfigurationException(IReadOnlyList<string> problems)
    : Exception("invalid sensor configuration:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
