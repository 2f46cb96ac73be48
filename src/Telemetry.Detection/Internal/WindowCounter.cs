using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>
/// Counts seconds in a sliding window of whole minutes (minute buckets): compact (one ushort per
/// minute) and tolerant of gaps. The window is the current minute plus the previous
/// <c>minutes - 1</c>. Part of rule state: serializable and copyable.
/// </summary>
[GenerateSerializer]
internal sealed class WindowCounter
{
    [Id(0)] private ushort[] _buckets;
    [Id(1)] private long _minute = long.MinValue;
    [Id(2)] private int _index;
    [Id(3)] private int _total;

    public WindowCounter(int minutes) => _buckets = new ushort[Math.Max(1, minutes)];

    public int Total => _total;

    /// <summary>Window length, min.</summary>
    public int Minutes => _buckets.Length;

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

    public WindowCounter Copy()
    {
        var c = (WindowCounter)MemberwiseClone();
        c._buckets = (ushort[])_buckets.Clone();
        return c;
    }

    /// <summary>This window when its length is <paramref name="minutes"/>, else a new empty one (the setting changed since it was saved).</summary>
    public WindowCounter Fit(int minutes) => _buckets is { } b && b.Length == minutes ? this : new WindowCounter(minutes);

    /// <summary>Loads the layout of the first state schema: the minute (NaN when unset) then one count per bucket.</summary>
    public void LoadV1(ReadOnlySpan<double> from)
    {
        if (from.Length != 1 + _buckets.Length)
            return;
        _minute = double.IsNaN(from[0]) ? long.MinValue : (long)from[0];
        _index = _minute == long.MinValue ? 0 : (int)(_minute % _buckets.Length);
        _total = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = (ushort)from[1 + i];
            _total += _buckets[i];
        }
    }
}
