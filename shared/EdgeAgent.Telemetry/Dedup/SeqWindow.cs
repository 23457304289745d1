namespace EdgeAgent.Telemetry.Dedup;

/// <summary>
/// High-water mark plus a sliding bitmap of the last <c>size</c> seqs below it, the anti-replay
/// window of RFC 4303 §3.4.3 / RFC 6479. Memory is <c>size / 8</c> bytes regardless of traffic.
/// </summary>
/// <remarks>Not thread-safe; <see cref="TelemetryDeduplicator"/> serialises access.</remarks>
internal sealed class SeqWindow
{
    private readonly ulong[] _bits;
    private readonly int _mask;
    private long _highWater; // 0 = nothing seen yet (valid seqs start at 1)

    public SeqWindow(int size)
    {
        _bits = new ulong[size / 64];
        _mask = size - 1;
    }

    public long HighWater => _highWater;

    public int Size => _mask + 1;

    public DedupVerdict Observe(long seq)
    {
        if (seq > _highWater)
        {
            var advance = seq - _highWater;
            if (_highWater == 0 || advance >= Size)
            {
                Array.Clear(_bits);
            }
            else
            {
                // Positions (highWater, seq] are new: clear them before they are reused.
                for (var s = _highWater + 1; s <= seq; s++) Clear(s);
            }
            _highWater = seq;
            Set(seq);
            return DedupVerdict.Accepted;
        }
        if (seq <= _highWater - Size) return DedupVerdict.TooOld;
        if (IsSet(seq)) return DedupVerdict.Duplicate;
        Set(seq);
        return DedupVerdict.Accepted;
    }

    private void Set(long seq) { var i = (int)(seq & _mask); _bits[i >> 6] |= 1UL << (i & 63); }

    private void Clear(long seq) { var i = (int)(seq & _mask); _bits[i >> 6] &= ~(1UL << (i & 63)); }

    private bool IsSet(long seq) { var i = (int)(seq & _mask); return (_bits[i >> 6] & (1UL << (i & 63))) != 0; }
}
