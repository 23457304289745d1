using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Profiles;

/// <summary>
/// Builds a <see cref="ReferenceProfile"/> from rows of feature values (e.g. the training set), one
/// <see cref="FeatureAccumulator"/> per named feature. Also the shape of a device's per-window drift state:
/// the same accumulators, merged instead of rebuilt.
/// </summary>
/// <remarks>Not thread-safe; build on one thread (or build per shard and <see cref="Merge"/>).</remarks>
public sealed class ReferenceProfileBuilder
{
    private readonly string[] _names;
    private readonly FeatureAccumulator[] _features;

    /// <summary>Creates a builder for the given feature names, in row order.</summary>
    /// <param name="featureNames">Unique, non-empty names; row values are matched to them by position.</param>
    /// <param name="k">KLL K for every feature.</param>
    /// <param name="random">Compaction randomness shared by all features (seed it for reproducible profiles).</param>
    /// <exception cref="ArgumentException">A name is empty or repeated.</exception>
    public ReferenceProfileBuilder(IReadOnlyList<string> featureNames, int k = KllFloatsSketch.DefaultK, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(featureNames);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in featureNames)
        {
            if (string.IsNullOrWhiteSpace(name) || !seen.Add(name))
            {
                throw new ArgumentException($"feature names must be unique and non-empty; '{name}' is not", nameof(featureNames));
            }
        }

        _names = [.. featureNames];
        _features = new FeatureAccumulator[_names.Length];
        for (int i = 0; i < _features.Length; i++)
        {
            _features[i] = new FeatureAccumulator(k, random);
        }
    }

    /// <summary>Feature names in row order.</summary>
    public IReadOnlyList<string> FeatureNames => _names;

    /// <summary>Rows added so far.</summary>
    public long Rows { get; private set; }

    /// <summary>The accumulator of feature <paramref name="index"/> (row position).</summary>
    public FeatureAccumulator this[int index] => _features[index];

    /// <summary>Adds one row: value i belongs to feature i. NaN/±∞ are counted per feature, not sketched.</summary>
    /// <exception cref="ArgumentException">The row length differs from the number of features.</exception>
    public void AddRow(ReadOnlySpan<float> row)
    {
        if (row.Length != _features.Length)
        {
            throw new ArgumentException($"row has {row.Length} values but the profile has {_features.Length} features ({string.Join(", ", _names)})", nameof(row));
        }

        for (int i = 0; i < row.Length; i++)
        {
            _features[i].Add(row[i]);
        }

        Rows++;
    }

    /// <summary>Merges another builder with the same feature names (e.g. a shard of the training set).</summary>
    /// <exception cref="ArgumentException">The feature names differ.</exception>
    public void Merge(ReferenceProfileBuilder other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!_names.SequenceEqual(other._names, StringComparer.Ordinal))
        {
            throw new ArgumentException($"cannot merge profiles with different features ({string.Join(", ", _names)} vs {string.Join(", ", other._names)})", nameof(other));
        }

        for (int i = 0; i < _features.Length; i++)
        {
            _features[i].Merge(other._features[i]);
        }

        Rows += other.Rows;
    }

    /// <summary>Snapshot of the current state as an immutable profile (the sketches are copied).</summary>
    public ReferenceProfile Build() =>
        new(_names.Select((name, i) => FeatureProfile.FromAccumulator(name, _features[i])));
}
