using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>
/// Average of the last <c>length</c> one-second values; a gap in time longer than
/// <c>maxGapSeconds</c> restarts it, so an average never spans a stop or an offline period.
/// Part of rule state: serializable and copyable.
/// </summary>
[GenerateSerializer]
internal sealed class MovingAverage
{
    [Id(0)] private double[] _values;
    [Id(1)] private int _next;
    [Id(2)] private int _count;
    [Id(3)] private double _sum;
    [Id(4)] private long _lastSecond = long.MinValue;
    [Id(5)] private int _maxGap;

    public MovingAverage(int length, int maxGapSeconds = 15)
    {
        _values = new double[Math.Max(1, length)];
        _maxGap = maxGapSeconds;
    }

    public bool Full => _count == _values.Length;
    public int Count => _count;
    public double Mean
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _count == 0 ? double.NaN : _sum / _count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long second, double value)
    {
        if (_lastSecond != long.MinValue && second - _lastSecond > _maxGap)
            Reset();
        _lastSecond = second;
        var values = _values;
        var next = _next;
        var sum = _sum;
        if (_count == values.Length)
            sum -= values[next];
        else
            _count++;
        values[next] = value;
        _sum = sum + value;
        next++;
        if (next == values.Length)
        {
            Recompute();
            next = 0;
        }
        _next = next;
    }

    public void Reset()
    {
        _next = 0;
        _count = 0;
        _sum = 0;
        _lastSecond = long.MinValue;
    }

    public MovingAverage Copy()
    {
        var c = (MovingAverage)MemberwiseClone();
        c._values = (double[])_values.Clone();
        return c;
    }

    /// <summary>This average when its length is <paramref name="length"/>, else a new empty one (the setting changed since it was saved).</summary>
    public MovingAverage Fit(int length) => _values is { } v && v.Length == length ? this : new MovingAverage(length, _maxGap);

    // Recompute now and then so that rounding errors never accumulate.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Recompute()
    {
        double sum = 0;
        for (var i = 0; i < _count; i++)
            sum += _values[i];
        _sum = sum;
    }
}
