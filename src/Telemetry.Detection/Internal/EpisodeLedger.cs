namespace Telemetry.Detection.Internal;

/// <summary>
/// Recent episode periods per rule (open ones end at long.MaxValue), so that late or re-issued
/// data never opens a second episode for a period an episode of the same rule already covers.
/// </summary>
internal sealed class EpisodeLedger(int rules, int perRule = 8)
{
    private readonly List<(long Start, long End)>?[] _byRule = new List<(long, long)>?[rules];

    public void Opened(int rule, long start)
    {
        var list = _byRule[rule] ??= [];
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Start == start)
                return;
        }
        if (list.Count >= perRule)
            list.RemoveAt(0);
        list.Add((start, long.MaxValue));
    }

    public void Closed(int rule, long start, long end)
    {
        var list = _byRule[rule] ??= [];
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Start == start)
            {
                list[i] = (start, end);
                return;
            }
        }
        if (list.Count >= perRule)
            list.RemoveAt(0);
        list.Add((start, end));
    }

    /// <summary>True when an episode of <paramref name="rule"/> covers <paramref name="second"/> (within the hysteresis on either side).</summary>
    public bool Covers(int rule, long start, long second, long hysteresis)
    {
        var list = _byRule[rule];
        if (list is null)
            return false;
        foreach (var (s, e) in list)
        {
            var end = e == long.MaxValue ? long.MaxValue : e + hysteresis;
            if (second >= s - hysteresis && start <= end)
                return true;
        }
        return false;
    }

    public void Prune(long horizon)
    {
        foreach (var list in _byRule)
            list?.RemoveAll(x => x.End < horizon);
    }

    public long[] Export()
    {
        var result = new List<long>();
        for (var r = 0; r < _byRule.Length; r++)
        {
            if (_byRule[r] is not { } list)
                continue;
            foreach (var (s, e) in list)
            {
                result.Add(r);
                result.Add(s);
                result.Add(e);
            }
        }
        return [.. result];
    }

    /// <summary>Loads exported triples; <paramref name="indexMap"/> maps a saved rule index to the current one (-1: rule gone).</summary>
    public void Import(long[]? triples, int[] indexMap)
    {
        Array.Clear(_byRule);
        if (triples is null)
            return;
        for (var i = 0; i + 2 < triples.Length; i += 3)
        {
            var saved = (int)triples[i];
            var r = saved >= 0 && saved < indexMap.Length ? indexMap[saved] : -1;
            if (r < 0 || r >= _byRule.Length)
                continue;
            (_byRule[r] ??= []).Add((triples[i + 1], triples[i + 2]));
        }
    }
}
