using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Profiles;

/// <summary>One feature of a reference profile: its name, summary statistics and KLL sketch.</summary>
/// <param name="Name">Feature name as the model contract names the input (unique within a profile).</param>
/// <param name="Statistics">Finite count, mean, M2 and non-finite counters of the reference data.</param>
/// <param name="Sketch">KLL sketch of the finite reference values; treat as read-only.</param>
public sealed record FeatureProfile(string Name, FeatureStatistics Statistics, KllFloatsSketch Sketch)
{
    /// <summary>Builds a feature profile from an accumulator filled with reference (training) data.</summary>
    public static FeatureProfile FromAccumulator(string name, FeatureAccumulator accumulator)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        return new FeatureProfile(name, accumulator.Statistics, accumulator.Sketch.Copy());
    }

    /// <summary>An accumulator holding a copy of this profile, e.g. to compare against with <see cref="DriftAssessment"/>.</summary>
    public FeatureAccumulator ToAccumulator(Random? random = null) => FeatureAccumulator.Restore(Statistics, Sketch.Copy(random));
}

/// <summary>
/// The reference distribution of a model's inputs (per feature: KLL sketch + statistics), carried in the model
/// bundle manifest so a device can score drift locally and the hub can compare fleet sketches against it.
/// Serializable as JSON (sketches as base64 of the DataSketches KLL bytes, <see cref="ReferenceProfileJson"/>)
/// or as a compact binary (<see cref="ReferenceProfileBinary"/>).
/// </summary>
/// <remarks>Immutable once built; safe to share between threads as long as nobody updates the sketches.</remarks>
public sealed class ReferenceProfile
{
    private readonly Dictionary<string, FeatureProfile> _byName;

    /// <summary>Creates a profile from features with unique, non-empty names.</summary>
    /// <exception cref="ReferenceProfileFormatException">A name is empty or repeated, or statistics disagree with a sketch.</exception>
    public ReferenceProfile(IEnumerable<FeatureProfile> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        Features = [.. features];
        _byName = new Dictionary<string, FeatureProfile>(StringComparer.Ordinal);
        for (int i = 0; i < Features.Count; i++)
        {
            var f = Features[i] ?? throw new ReferenceProfileFormatException($"feature #{i} is null");
            if (string.IsNullOrWhiteSpace(f.Name))
            {
                throw new ReferenceProfileFormatException($"feature #{i} has an empty name; every feature needs the input name the model uses");
            }

            if (!_byName.TryAdd(f.Name, f))
            {
                throw new ReferenceProfileFormatException($"feature name '{f.Name}' appears more than once");
            }

            string? problem = f.Statistics.Validate(f.Sketch);
            if (problem is not null)
            {
                throw new ReferenceProfileFormatException($"feature '{f.Name}': {problem}");
            }
        }
    }

    /// <summary>Features in profile order.</summary>
    public IReadOnlyList<FeatureProfile> Features { get; }

    /// <summary>The feature named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such feature; the message lists the names present.</exception>
    public FeatureProfile this[string name] => _byName.TryGetValue(name, out var f)
        ? f
        : throw new KeyNotFoundException($"reference profile has no feature '{name}' (features: {string.Join(", ", _byName.Keys)})");

    /// <summary>Looks up a feature by name.</summary>
    public bool TryGetFeature(string name, out FeatureProfile feature) => _byName.TryGetValue(name, out feature!);
}

/// <summary>A reference profile (JSON or binary) is malformed; the message says which feature and field.</summary>
public sealed class ReferenceProfileFormatException : FormatException
{
    /// <summary>Creates the exception with an operator-readable message.</summary>
    public ReferenceProfileFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an operator-readable message and the underlying cause.</summary>
    public ReferenceProfileFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
