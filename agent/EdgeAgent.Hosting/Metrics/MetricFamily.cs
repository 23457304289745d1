using System.Collections.Concurrent;

namespace EdgeAgent.Hosting.Metrics;

/// <summary>The Prometheus metric type of a family.</summary>
public enum MetricType { Counter, Gauge, Histogram }

/// <summary>
/// A named metric with its help text and label names; one child per distinct set of label values.
/// Get a child once with <c>WithLabels</c> and keep it: updating the child is the allocation-free
/// hot path, looking it up is not.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public abstract class MetricFamily
{
    private protected MetricFamily(string name, string help, MetricType type, string[] labelNames)
    {
        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames;
    }

    public string Name { get; }
    public string Help { get; }
    public MetricType Type { get; }
    public IReadOnlyList<string> LabelNames { get; }

    internal abstract IEnumerable<(string[] Labels, object Child)> Children();
}

/// <summary>A metric family whose children are <typeparamref name="TChild"/>.</summary>
public sealed class MetricFamily<TChild> : MetricFamily where TChild : class
{
    private readonly ConcurrentDictionary<string, (string[] Labels, TChild Child)> _children = new(StringComparer.Ordinal);
    private readonly Func<TChild> _create;

    internal MetricFamily(string name, string help, MetricType type, string[] labelNames, Func<TChild> create)
        : base(name, help, type, labelNames) => _create = create;

    /// <summary>The child for these label values (created on first use), in <see cref="MetricFamily.LabelNames"/> order.</summary>
    /// <exception cref="ArgumentException">Wrong number of values.</exception>
    public TChild WithLabels(params string[] values)
    {
        if (values.Length != LabelNames.Count)
            throw new ArgumentException($"metric {Name} has labels ({string.Join(", ", LabelNames)}); got {values.Length} values");
        string key = string.Join('\u0001', values);
        return _children.GetOrAdd(key, static (_, state) => ((string[])state.values.Clone(), state.create()), (values, create: _create)).Child;
    }

    internal override IEnumerable<(string[] Labels, object Child)> Children() =>
        _children.Values.OrderBy(c => string.Join('\u0001', c.Labels), StringComparer.Ordinal).Select(c => (c.Labels, (object)c.Child));
}
