using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>
/// The sample seconds already seen for one vehicle, as sorted disjoint inclusive ranges of
/// Unix seconds. A vehicle that reports every second without gaps costs one range; each gap
/// (offline period not yet re-issued) costs one more. Ranges older than the retention horizon,
/// and the oldest ones beyond <c>maxRanges</c>, are forgotten.
/// </summary>
internal sealed class CoveredRanges(int maxRanges)
{
    private long[] _starts = new long[4];
    private long[] _ends = new long[4];
    private int _count;

    public int Count => _count;

    /// <summary>Oldest second still remembered (inclusive), or long.MinValue when nothing was forgotten yet.</summary>
    public long ForgottenBefore { get; private set; } = long.MinValue;

    public long Newest => _count == 0 ? long.MinValue : _ends[_count - 1];

    /// <summary>Adds <paramref name="second"/>; false when it was already covered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAdd(long second)
    {
        if (_count > 0)
        {
            var last = _count - 1;
            var end = _ends[last];
            if (second == end + 1)
            {
                _ends[last] = second;
                return true;
            }
            if (second > end + 1)
            {
                Append(second, second);
                return true;
            }
        }
        else
        {
            Append(second, second);
            return true;
        }
        return TryAddSlow(second);
    }

    private bool TryAddSlow(long second)
    {
        // Binary search for the last range whose start <= second.
        int lo = 0, hi = _count - 1, idx = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_starts[mid] <= second)
            {
                idx = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        if (idx >= 0 && second <= _ends[idx])
            return false;
        var joinsLeft = idx >= 0 && _ends[idx] + 1 == second;
        var joinsRight = idx + 1 < _count && _starts[idx + 1] - 1 == second;
        if (joinsLeft && joinsRight)
        {
            _ends[idx] = _ends[idx + 1];
            RemoveAt(idx + 1);
        }
        else if (joinsLeft)
        {
            _ends[idx] = second;
        }
        else if (joinsRight)
        {
            _starts[idx + 1] = second;
        }
        else
        {
            InsertAt(idx + 1, second, second);
        }
        return true;
    }

    /// <summary>True when every second from <paramref name="from"/> to <paramref name="to"/> (inclusive) is covered.</summary>
    public bool CoversAll(long from, long to)
    {
        for (var i = 0; i < _count; i++)
        {
            if (_starts[i] <= from && _ends[i] >= to)
                return true;
        }
        return false;
    }

    /// <summary>Forgets ranges that end before <paramref name="horizon"/> and enforces the range limit.</summary>
    public void Prune(long horizon)
    {
        var drop = 0;
        while (drop < _count - 1 && _ends[drop] < horizon)
            drop++;
        if (_count - drop > maxRanges)
            drop = _count - maxRanges;
        if (drop > 0)
        {
            ForgottenBefore = Math.Max(ForgottenBefore, _ends[drop - 1] + 1);
            Array.Copy(_starts, drop, _starts, 0, _count - drop);
            Array.Copy(_ends, drop, _ends, 0, _count - drop);
            _count -= drop;
        }
        if (horizon > ForgottenBefore && _count > 0 && _starts[0] < horizon)
        {
            // Keep the range but treat seconds before the horizon as no longer provable.
            ForgottenBefore = Math.Max(ForgottenBefore, Math.Min(horizon, _starts[0]));
        }
    }

    public long[] Export()
    {
        var result = new long[_count * 2];
        for (var i = 0; i < _count; i++)
        {
            result[2 * i] = _starts[i];
            result[(2 * i) + 1] = _ends[i];
        }
        return result;
    }

    public void Import(long[]? pairs, long forgottenBefore)
    {
        _count = 0;
        ForgottenBefore = forgottenBefore;
        if (pairs is null)
            return;
        for (var i = 0; i + 1 < pairs.Length; i += 2)
            Append(pairs[i], pairs[i + 1]);
    }

    private void Append(long start, long end)
    {
        EnsureCapacity();
        _starts[_count] = start;
        _ends[_count] = end;
        _count++;
    }

    private void InsertAt(int index, long start, long end)
    {
        EnsureCapacity();
        Array.Copy(_starts, index, _starts, index + 1, _count - index);
        Array.Copy(_ends, index, _ends, index + 1, _count - index);
        _starts[index] = start;
        _ends[index] = end;
        _count++;
    }

    private void RemoveAt(int index)
    {
        Array.Copy(_starts, index + 1, _starts, index, _count - index - 1);
        Array.Copy(_ends, index + 1, _ends, index, _count - index - 1);
        _count--;
    }

    private void EnsureCapacity()
    {
        if (_count < _starts.Length)
            return;
        Array.Resize(ref _starts, _starts.Length * 2);
        Array.Resize(ref _ends, _ends.Length * 2);
    }
}
