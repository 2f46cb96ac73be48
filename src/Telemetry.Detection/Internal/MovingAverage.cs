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

    public void Add(long second, double value)
    {
        if (_lastSecond != long.MinValue && second - _lastSecond > maxGapSeconds)
            Reset();
        _lastSecond = second;
        if (_count == _values.Length)
            _sum -= _values[_next];
        else
            _count++;
        _values[_next] = value;
        _sum += value;
        _next++;
        if (_next == _values.Length)
        {
            _next = 0;
            // Recompute now and then so that rounding errors never accumulate.
            _sum = 0;
            for (var i = 0; i < _count; i++)
                _sum += _values[i];
        }
    }

    public void Reset()
    {
        _next = 0;
        _count = 0;
        _sum = 0;
        _lastSecond = long.MinValue;
    }
}
