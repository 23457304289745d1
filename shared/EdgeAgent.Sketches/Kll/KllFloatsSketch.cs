namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// KLL quantile sketch over <see cref="float"/> values (Karnin, Lang, Liberty 2016), compatible with the
/// Apache DataSketches <c>KllFloatsSketch</c>: same level capacities, same compaction, same merge, and the
/// same compact binary format (<see cref="ToByteArray"/> / <see cref="Deserialize"/>), so sketches written
/// here can be read by DataSketches (Java, C++, Python) and vice versa.
/// </summary>
/// <remarks>
/// <para>Accuracy: with 99 % confidence every rank query is within <see cref="NormalizedRankError(bool)"/>
/// of the true rank (k = 200: 1.33 %), for any input order; merging preserves this at the smaller K of the
/// inputs (tracked as <see cref="MinK"/>). N, minimum and maximum are always exact.</para>
/// <para>NaN values are ignored (they have no rank); infinities are ordinary values.</para>
/// <para>Thread safety: not thread-safe. One writer at a time, and no reads concurrent with writes;
/// callers synchronize. <see cref="Merge"/> reads the other sketch and does not modify it.</para>
/// <para>Randomness: compaction keeps the odd or even items of a level by a random bit drawn from the
/// <see cref="Random"/> given at construction, so a seeded <see cref="Random"/> makes a sketch fully
/// deterministic (same input, same bytes).</para>
/// </remarks>
public sealed class KllFloatsSketch
{
    /// <summary>Default K: about 1.33 % single-sided rank error and about 2.5 KB serialized at N = 10^6.</summary>
    public const int DefaultK = 200;

    /// <summary>Smallest K the DataSketches format allows (equal to the minimum level width M).</summary>
    public const int MinimumK = KllCapacity.DefaultM;

    /// <summary>Largest K the format allows (stored as an unsigned 16-bit field).</summary>
    public const int MaximumK = ushort.MaxValue;

    private readonly Random _random;
    private float[] _items;
    private int[] _levels; // _levels[0.._numLevels]; items of level h are _items[_levels[h].._levels[h+1])
    private int _numLevels;
    private long _n;
    private float _min = float.NaN;
    private float _max = float.NaN;
    private bool _levelZeroSorted;
    private KllSortedView? _sortedView;

    /// <summary>Creates an empty sketch.</summary>
    /// <param name="k">Accuracy parameter, <see cref="MinimumK"/>..<see cref="MaximumK"/>; larger is more accurate and bigger.</param>
    /// <param name="random">Source of compaction offsets; pass a seeded instance for reproducible sketches. Defaults to <see cref="Random.Shared"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">K is out of range.</exception>
    public KllFloatsSketch(int k = DefaultK, Random? random = null)
    {
        ValidateK(k);
        K = k;
        MinK = k;
        _random = random ?? Random.Shared;
        _items = new float[k];
        _numLevels = 1;
        _levels = [k, k];
    }

    private KllFloatsSketch(int k, int minK, long n, int numLevels, int[] levels, float[] items, float min, float max,
        bool levelZeroSorted, Random random)
    {
        K = k;
        MinK = minK;
        _n = n;
        _numLevels = numLevels;
        _levels = levels;
        _items = items;
        _min = min;
        _max = max;
        _levelZeroSorted = levelZeroSorted;
        _random = random;
    }

    /// <summary>The configured K.</summary>
    public int K { get; }

    /// <summary>Smallest K among this sketch and every estimation-mode sketch merged into it; it governs the error bound.</summary>
    public int MinK { get; private set; }

    /// <summary>Number of (non-NaN) values the sketch has seen, including through merges. Always exact.</summary>
    public long N => _n;

    /// <summary>True when no value has been added.</summary>
    public bool IsEmpty => _n == 0;

    /// <summary>True once the sketch has compacted (it no longer holds every value).</summary>
    public bool IsEstimationMode => _numLevels > 1;

    /// <summary>Number of items physically retained.</summary>
    public int NumRetained => _levels[_numLevels] - _levels[0];

    /// <summary>Number of levels (1 until the first compaction).</summary>
    public int NumLevels => _numLevels;

    /// <summary>Exact minimum of all values seen (NaN when empty).</summary>
    public float MinItem => _min;

    /// <summary>Exact maximum of all values seen (NaN when empty).</summary>
    public float MaxItem => _max;

    /// <summary>Whether level 0 is currently sorted (part of the serialized flags).</summary>
    public bool IsLevelZeroSorted => _levelZeroSorted;

    /// <summary>
    /// DataSketches' fitted 99th-percentile normalized rank error for K: single-sided 2.296 / K^0.9723
    /// (rank and quantile queries), double-sided 2.446 / K^0.9433 (PMF, i.e. mass between two split points).
    /// </summary>
    public static double NormalizedRankError(int k, bool pmf) =>
        pmf ? 2.446 / Math.Pow(k, 0.9433) : 2.296 / Math.Pow(k, 0.9723);

    /// <summary>Rank error bound of this sketch (at <see cref="MinK"/>); see <see cref="NormalizedRankError(int, bool)"/>.</summary>
    public double NormalizedRankError(bool pmf) => NormalizedRankError(MinK, pmf);

    /// <summary>Adds one value. NaN is ignored.</summary>
    public void Update(float value)
    {
        if (float.IsNaN(value))
        {
            return;
        }

        if (_n == 0)
        {
            _min = value;
            _max = value;
        }
        else
        {
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }
        }

        // Reserve first: compaction may replace _items, and C# evaluates the array reference before the index.
        int slot = ReserveLevelZeroSlot();
        _items[slot] = value;
    }

    /// <summary>
    /// Adds every value of <paramref name="values"/>. NaN values are ignored. Equivalent to calling
    /// <see cref="Update(float)"/> for each value (same compactions, same bytes), but fills the free space of
    /// level 0 in a tight loop between compactions.
    /// </summary>
    public void Update(ReadOnlySpan<float> values)
    {
        int i = 0;
        while (i < values.Length)
        {
            if (_levels[0] == 0)
            {
                // Buffer full: the scalar path compacts, then inserts this value.
                Update(values[i++]);
                continue;
            }

            int take = Math.Min(_levels[0], values.Length - i);
            var items = _items;
            int pos = _levels[0];
            long n = _n;
            float min = _min;
            float max = _max;
            foreach (float v in values.Slice(i, take))
            {
                if (float.IsNaN(v))
                {
                    continue;
                }

                if (n == 0)
                {
                    min = v;
                    max = v;
                }
                else
                {
                    if (v < min)
                    {
                        min = v;
                    }

                    if (v > max)
                    {
                        max = v;
                    }
                }

                items[--pos] = v;
                n++;
            }

            if (n != _n)
            {
                _levelZeroSorted = false;
                _sortedView = null;
            }

            _levels[0] = pos;
            _n = n;
            _min = min;
            _max = max;
            i += take;
        }
    }

    /// <summary>
    /// Merges <paramref name="other"/> into this sketch, keeping the weight of every retained item, so N,
    /// minimum and maximum stay exact and the error bound holds at the smaller K. <paramref name="other"/>
    /// is not modified. Sketches with different K may be merged; this sketch keeps its K.
    /// </summary>
    public void Merge(KllFloatsSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.IsEmpty)
        {
            return;
        }

        if (ReferenceEquals(other, this))
        {
            other = Copy(_random);
        }

        if (IsEmpty)
        {
            _min = other._min;
            _max = other._max;
        }
        else
        {
            if (other._min < _min)
            {
                _min = other._min;
            }

            if (other._max > _max)
            {
                _max = other._max;
            }
        }

        long finalN = _n + other._n;

        // Level 0 of the other sketch holds weight-1 items: they are simply inserted.
        for (int i = other._levels[0]; i < other._levels[1]; i++)
        {
            int slot = ReserveLevelZeroSlot();
            _items[slot] = other._items[i];
        }

        if (other._numLevels >= 2)
        {
            MergeHigherLevels(other, finalN);
        }

        _n = finalN;
        if (other.IsEstimationMode)
        {
            MinK = Math.Min(MinK, other.MinK);
        }

        _sortedView = null;
    }

    /// <summary>Returns an independent copy that uses <paramref name="random"/> (or this sketch's source) for future compactions.</summary>
    public KllFloatsSketch Copy(Random? random = null) =>
        new(K, MinK, _n, _numLevels, (int[])_levels.Clone(), (float[])_items.Clone(), _min, _max, _levelZeroSorted, random ?? _random);

    /// <summary>
    /// The sketch's weighted distribution, sorted. Cached until the next update or merge; building it does
    /// not change the sketch (so queries never change its serialized bytes).
    /// </summary>
    public KllSortedView GetSortedView()
    {
        if (_sortedView is { } cached)
        {
            return cached;
        }

        int retained = NumRetained;
        var items = new float[retained];
        var weights = new long[retained];
        int o = 0;
        long weight = 1;
        for (int level = 0; level < _numLevels; level++, weight <<= 1)
        {
            for (int i = _levels[level]; i < _levels[level + 1]; i++)
            {
                items[o] = _items[i];
                weights[o++] = weight;
            }
        }

        var view = KllSortedView.FromWeighted(items, weights, _min, _max,
            IsEmpty ? 0 : NormalizedRankError(false), IsEmpty ? 0 : NormalizedRankError(true));
        _sortedView = view;
        return view;
    }

    /// <summary>Estimated normalized rank of <paramref name="value"/> (inclusive: fraction ≤ value). NaN when empty.</summary>
    public double GetRank(float value, bool inclusive = true) => GetSortedView().GetRank(value, inclusive);

    /// <summary>Estimated quantile at normalized rank <paramref name="rank"/>; rank 0 and 1 give the exact min and max. NaN when empty.</summary>
    public float GetQuantile(double rank, bool inclusive = true)
    {
        if (IsEmpty)
        {
            return float.NaN;
        }

        if (rank == 0)
        {
            return _min;
        }

        if (rank == 1)
        {
            return _max;
        }

        return GetSortedView().GetQuantile(rank, inclusive);
    }

    /// <summary>Estimated inclusive CDF at strictly increasing split points, plus a final 1 (see <see cref="KllSortedView.GetCdf"/>).</summary>
    public double[] GetCdf(ReadOnlySpan<float> splitPoints) => GetSortedView().GetCdf(splitPoints);

    /// <summary>Estimated mass between consecutive split points (a histogram; see <see cref="KllSortedView.GetPmf"/>).</summary>
    public double[] GetPmf(ReadOnlySpan<float> splitPoints) => GetSortedView().GetPmf(splitPoints);

    /// <summary>Size in bytes of <see cref="ToByteArray"/>.</summary>
    public int SerializedSizeBytes => KllFloatsBinaryFormat.SizeOf(this);

    /// <summary>Serializes to the Apache DataSketches compact KLL float format (see <see cref="KllFloatsBinaryFormat"/>).</summary>
    public byte[] ToByteArray()
    {
        var bytes = new byte[SerializedSizeBytes];
        KllFloatsBinaryFormat.Write(this, bytes);
        return bytes;
    }

    /// <summary>Serializes into <paramref name="destination"/>, which must hold <see cref="SerializedSizeBytes"/> bytes; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination) => KllFloatsBinaryFormat.Write(this, destination);

    /// <summary>
    /// Reads a sketch in the DataSketches compact KLL float format (empty, single-item or full), validating
    /// every field. The bytes are not retained.
    /// </summary>
    /// <param name="bytes">Exactly one serialized sketch (trailing bytes are an error).</param>
    /// <param name="random">Source of compaction offsets for later updates and merges; defaults to <see cref="Random.Shared"/>.</param>
    /// <exception cref="KllFormatException">The bytes are not a valid sketch; the message says which field is wrong.</exception>
    public static KllFloatsSketch Deserialize(ReadOnlySpan<byte> bytes, Random? random = null) =>
        KllFloatsBinaryFormat.Read(bytes, random ?? Random.Shared);

    internal static void ValidateK(int k)
    {
        if (k < MinimumK || k > MaximumK)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"KLL K must be between {MinimumK} and {MaximumK}");
        }
    }

    internal static KllFloatsSketch FromParts(int k, int minK, long n, int numLevels, int[] levels, float[] items, float min, float max,
        bool levelZeroSorted, Random random) =>
        new(k, minK, n, numLevels, levels, items, min, max, levelZeroSorted, random);

    // Raw state for the serializer (same assembly only).
    internal float[] RawItems => _items;

    internal int[] RawLevels => _levels;

    /// <summary>Makes room at the bottom of level 0 (compacting if the buffer is full), counts one more value, and returns the slot.</summary>
    private int ReserveLevelZeroSlot()
    {
        if (_levels[0] == 0)
        {
            CompressWhileUpdating();
        }

        _n++;
        _levelZeroSorted = false;
        _sortedView = null;
        return --_levels[0];
    }

    /// <summary>
    /// Compacts the lowest level that has reached its capacity (DataSketches
    /// <c>compressWhileUpdating</c>); called only when the item buffer is exactly full.
    /// </summary>
    private void CompressWhileUpdating()
    {
        int level = FindLevelToCompact();
        if (level == _numLevels - 1)
        {
            AddEmptyTopLevelToFullSketch();
        }

        int rawBeg = _levels[level];
        int rawLim = _levels[level + 1];
        int popAbove = _levels[level + 2] - rawLim;
        int rawPop = rawLim - rawBeg;
        bool oddPop = (rawPop & 1) == 1;
        int adjBeg = oddPop ? rawBeg + 1 : rawBeg;
        int adjPop = oddPop ? rawPop - 1 : rawPop;
        int halfAdjPop = adjPop / 2;

        if (level == 0 && !_levelZeroSorted)
        {
            Array.Sort(_items, adjBeg, adjPop);
        }

        if (popAbove == 0)
        {
            KllCompaction.RandomlyHalveUp(_items, adjBeg, adjPop, _random);
        }
        else
        {
            KllCompaction.RandomlyHalveDown(_items, adjBeg, adjPop, _random);
            KllCompaction.MergeSortedInPlace(_items, adjBeg, halfAdjPop, rawLim, popAbove, adjBeg + halfAdjPop);
        }

        _levels[level + 1] -= halfAdjPop;
        if (oddPop)
        {
            // The leftover item stays at this level, just below the (lowered) start of the level above.
            _levels[level] = _levels[level + 1] - 1;
            _items[_levels[level]] = _items[rawBeg];
        }
        else
        {
            _levels[level] = _levels[level + 1];
        }

        // Shift the levels below up so that the freed slots end up at the bottom, where level 0 grows.
        if (level > 0)
        {
            int amount = rawBeg - _levels[0];
            Array.Copy(_items, _levels[0], _items, _levels[0] + halfAdjPop, amount);
            for (int lvl = 0; lvl < level; lvl++)
            {
                _levels[lvl] += halfAdjPop;
            }
        }
    }

    private int FindLevelToCompact()
    {
        for (int level = 0; level < _numLevels; level++)
        {
            int pop = _levels[level + 1] - _levels[level];
            if (pop >= KllCapacity.LevelCapacity(K, _numLevels, level))
            {
                return level;
            }
        }

        throw new InvalidOperationException("KLL capacity invariant broken: a full buffer with no full level; this is a bug in EdgeAgent.Sketches");
    }

    private void AddEmptyTopLevelToFullSketch()
    {
        int curTotalCap = _levels[_numLevels];
        int deltaCap = KllCapacity.LevelCapacity(K, _numLevels + 1, 0);
        int newTotalCap = curTotalCap + deltaCap;

        var newItems = new float[newTotalCap];
        Array.Copy(_items, 0, newItems, deltaCap, curTotalCap);
        _items = newItems;

        var newLevels = new int[_numLevels + 2];
        for (int i = 0; i <= _numLevels; i++)
        {
            newLevels[i] = _levels[i] + deltaCap;
        }

        _numLevels++;
        newLevels[_numLevels] = newTotalCap;
        _levels = newLevels;
    }

    private int LevelSize(int level) => level < _numLevels ? _levels[level + 1] - _levels[level] : 0;

    private void MergeHigherLevels(KllFloatsSketch other, long finalN)
    {
        int otherAboveZero = other._levels[other._numLevels] - other._levels[1];
        var work = new float[NumRetained + otherAboveZero];
        int provisionalNumLevels = Math.Max(_numLevels, other._numLevels);
        int levelSlots = Math.Max(KllCapacity.UpperBoundOnNumLevels(finalN), provisionalNumLevels) + 3;
        var workLevels = new int[levelSlots];
        var outLevels = new int[levelSlots];

        // Level 0 of this sketch (which already holds the other's level 0) goes first, then each higher
        // level is the sorted merge of both sketches' levels at that height: same height, same weight.
        int selfPopZero = LevelSize(0);
        Array.Copy(_items, _levels[0], work, 0, selfPopZero);
        workLevels[1] = selfPopZero;
        for (int lvl = 1; lvl < provisionalNumLevels; lvl++)
        {
            int selfPop = LevelSize(lvl);
            int otherPop = other.LevelSize(lvl);
            workLevels[lvl + 1] = workLevels[lvl] + selfPop + otherPop;
            if (selfPop > 0 && otherPop > 0)
            {
                KllCompaction.MergeSorted(_items, _levels[lvl], selfPop, other._items, other._levels[lvl], otherPop, work, workLevels[lvl]);
            }
            else if (selfPop > 0)
            {
                Array.Copy(_items, _levels[lvl], work, workLevels[lvl], selfPop);
            }
            else if (otherPop > 0)
            {
                Array.Copy(other._items, other._levels[lvl], work, workLevels[lvl], otherPop);
            }
        }

        var result = KllCompaction.GeneralCompress(K, KllCapacity.DefaultM, provisionalNumLevels, work, workLevels, outLevels,
            _levelZeroSorted, _random);

        var items = result.FinalCapacity == _items.Length ? _items : new float[result.FinalCapacity];
        int freeSpaceAtBottom = result.FinalCapacity - result.FinalNumItems;
        Array.Copy(work, outLevels[0], items, freeSpaceAtBottom, result.FinalNumItems);
        var levels = new int[result.FinalNumLevels + 1];
        int shift = freeSpaceAtBottom - outLevels[0];
        for (int lvl = 0; lvl <= result.FinalNumLevels; lvl++)
        {
            levels[lvl] = outLevels[lvl] + shift;
        }

        _items = items;
        _levels = levels;
        _numLevels = result.FinalNumLevels;
    }
}
