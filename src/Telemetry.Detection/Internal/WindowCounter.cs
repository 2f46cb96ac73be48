using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>
/// Counts seconds in a sliding window of whole minutes (minute buckets): compact (one ushort per
/// minute) and tolerant of gaps. The window is the current minute plus the previous
/// <c>minutes - 1</c>.
/// </summary>
internal sealed class WindowCounter(int minutes)
{
    private readonly ushort[] _buckets = new ushort[minutes];
    private long _minute = long.MinValue;
    private int _index;
    private int _total;

    public int Total => _total;

    /// <summary>Moves the window to <paramref name="minute"/> (Unix minutes; sample seconds / 60).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(long minute)
    {
        // Within the current minute (every sample but one a minute) there is nothing to do.
        if (minute > _minute)
            MoveTo(minute);
    }

    private void MoveTo(long minute)
    {
        var n = _buckets.Length;
        if (_minute == long.MinValue || minute - _minute >= n)
        {
            Array.Clear(_buckets);
            _total = 0;
        }
        else
        {
            for (var m = _minute + 1; m <= minute; m++)
            {
                var i = (int)(m % n);
                _total -= _buckets[i];
                _buckets[i] = 0;
            }
        }
        _minute = minute;
        _index = (int)(minute % n);
    }

    /// <summary>Counts one second in the current minute (call <see cref="Advance"/> first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count()
    {
        var i = _index;
        if (_buckets[i] < ushort.MaxValue)
        {
            _buckets[i]++;
            _total++;
        }
    }

    public void Reset()
    {
        Array.Clear(_buckets);
        _total = 0;
        _minute = long.MinValue;
    }

    public void Save(List<double> into)
    {
        into.Add(_minute == long.MinValue ? double.NaN : _minute);
        foreach (var b in _buckets)
            into.Add(b);
    }

    public int Load(ReadOnlySpan<double> from)
    {
        var need = 1 + _buckets.Length;
        if (from.Length < need)
            return from.Length;
        _minute = double.IsNaN(from[0]) ? long.MinValue : (long)from[0];
        _index = _minute == long.MinValue ? 0 : (int)(_minute % _buckets.Length);
        _total = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = (ushort)from[1 + i];
            _total += _buckets[i];
        }
        return need;
    }
}
