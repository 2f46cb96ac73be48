using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>
/// Average of the last <c>length</c> one-second values; a gap in time longer than
/// <c>maxGapSeconds</c> restarts it, so an average never spans a stop or an offline period.
/// </summary>
internal sealed class MovingAverage(int length, int maxGapSeconds = 15)
{
    private readonly double[] _values = new double[length];
    private int _next;
    private int _count;
    private double _sum;
    private long _lastSecond = long.MinValue;

    public bool Full => _count == _values.Length;
    public int Count => _count;
    public double Mean => _count == 0 ? double.NaN : _sum / _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long second, double value)
    {
        if (_lastSecond != long.MinValue && second - _lastSecond > maxGapSeconds)
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
