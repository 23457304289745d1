using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Streams;

/// <summary>
/// Splits a byte stream into newline-terminated lines in one reused buffer (no allocation per line).
/// Lines longer than the limit are counted as <see cref="BadSampleReason.LineTooLong"/> and discarded
/// up to the next newline, so a producer that never sends a newline cannot exhaust memory.
/// </summary>
/// <remarks>Not thread-safe: one instance per stream/connection.</remarks>
internal sealed class LineSplitter
{
    private readonly byte[] _buffer;
    private readonly int _maxLineBytes;
    private readonly SensorStats _stats;
    private int _start;
    private int _end;
    private bool _discarding;

    public LineSplitter(int maxLineBytes, SensorStats stats)
    {
        _maxLineBytes = maxLineBytes;
        _stats = stats;
        _buffer = new byte[maxLineBytes + 8192];
    }

    public byte[] Buffer => _buffer;

    /// <summary>Free space to read into; compacts the pending partial line to the front first.</summary>
    public Memory<byte> GetReadMemory()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        return _buffer.AsMemory(_end);
    }

    public void Advance(int count) => _end += count;

    /// <summary>Next complete line (without the newline and a trailing CR), as a range of <see cref="Buffer"/>.</summary>
    public bool TryReadLine(out int start, out int length)
    {
        while (true)
        {
            int idx = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (idx < 0)
            {
                if (_end - _start > _maxLineBytes)
                {
                    if (!_discarding) _stats.CountBad(BadSampleReason.LineTooLong);
                    _discarding = true;
                    _start = _end;
                }
                start = length = 0;
                return false;
            }
            int lineStart = _start;
            _start += idx + 1;
            if (_discarding || idx > _maxLineBytes)
            {
                if (!_discarding) _stats.CountBad(BadSampleReason.LineTooLong);
                _discarding = false;
                continue;
            }
            start = lineStart;
            length = idx > 0 && _buffer[lineStart + idx - 1] == (byte)'\r' ? idx - 1 : idx;
            return true;
        }
    }

    /// <summary>At end of stream: the unterminated last line, if any.</summary>
    public bool TryReadFinalLine(out int start, out int length)
    {
        start = _start;
        length = _end - _start;
        bool any = length > 0 && !_discarding;
        _start = _end;
        _discarding = false;
        if (any && _buffer[start + length - 1] == (byte)'\r') length--;
        return any;
    }
}
