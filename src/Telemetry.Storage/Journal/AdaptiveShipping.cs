using System.Buffers.Text;
using System.Text;

namespace Telemetry.Storage.Journal;

/// <summary>
/// What the two shippers of the <c>adaptive</c> policy share: the alert episodes the main shipper has
/// read (per vehicle, from the <c>hdv_alert</c> lines of the journal) and how far it has read, so that the
/// detail shipper, which runs <see cref="TimeSeriesOptions.AdaptiveDetailDelay"/> behind, sends the
/// full-resolution fields of exactly the seconds within <see cref="TimeSeriesOptions.AdaptiveWindow"/> of an episode.
/// </summary>
public sealed class AdaptiveShipping
{
    private static readonly byte[] AlertPrefix = Encoding.ASCII.GetBytes(SamplePoints.AlertMeasurement + ",");
    private readonly Dictionary<string, List<Episode>> _episodes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _readSequence;
    private long _readAppendedTicks;

    /// <summary>Episodes known (open or closed), all vehicles.</summary>
    public int EpisodeCount
    {
        get
        {
            lock (_gate)
                return _episodes.Values.Sum(list => list.Count);
        }
    }

    /// <summary>The sequence of the last record the main shipper has read (0: none yet).</summary>
    public long ReadSequence => Interlocked.Read(ref _readSequence);

    /// <summary>When the last record the main shipper has read was appended.</summary>
    public DateTime ReadAppendedUtc => new(Interlocked.Read(ref _readAppendedTicks), DateTimeKind.Utc);

    /// <summary>The main shipper has read the record <paramref name="sequence"/>, appended at <paramref name="appendedUtc"/>.</summary>
    internal void MarkRead(long sequence, DateTime appendedUtc)
    {
        Interlocked.Exchange(ref _readAppendedTicks, appendedUtc.Ticks);
        Interlocked.Exchange(ref _readSequence, sequence);
    }

    /// <summary>True when <paramref name="line"/> is an alert line; its episode (VIN, start, end or open) is then recorded.</summary>
    internal bool TryRegister(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith(AlertPrefix))
            return false;
        if (!TryParseAlert(line, out var vin, out var start, out var end))
            return true;
        lock (_gate)
        {
            if (!_episodes.TryGetValue(vin, out var list))
                _episodes[vin] = list = [];
            // A loop, not FindIndex with a lambda: the captured start would cost a closure on every line read.
            var index = list.Count - 1;
            while (index >= 0 && list[index].Start != start)
                index--;
            if (index >= 0)
                list[index] = new Episode(start, end);
            else
                list.Add(new Episode(start, end));
            if (list.Count > 64)
                list.RemoveAt(0); // the oldest: the detail shipper is long past it
        }

        return true;
    }

    /// <summary>True when <paramref name="second"/> (Unix seconds) of <paramref name="vin"/> lies within <paramref name="margin"/> of a known episode.</summary>
    public bool Covers(string vin, long second, TimeSpan margin)
    {
        lock (_gate)
            return _episodes.TryGetValue(vin, out var list) && Covers(list, second, margin);
    }

    private static bool Covers(List<Episode> episodes, long second, TimeSpan margin)
    {
        var seconds = (long)margin.TotalSeconds;
        foreach (var episode in episodes)
        {
            if (second >= episode.Start - seconds && (episode.End == long.MaxValue || second <= episode.End + seconds))
                return true;
        }

        return false;
    }

    /// <summary>As <see cref="Covers(string, long, TimeSpan)"/> for a VIN given as the ASCII bytes of a line (no string made).</summary>
    public bool Covers(ReadOnlySpan<byte> vin, long second, TimeSpan margin)
    {
        if (vin.Length > 64)
            return false;
        Span<char> chars = stackalloc char[vin.Length];
        for (var i = 0; i < vin.Length; i++)
            chars[i] = (char)vin[i];
        lock (_gate)
            return _episodes.Count > 0 && _episodes.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars, out var list) && Covers(list, second, margin);
    }

    /// <summary>
    /// Reads an <c>hdv_alert</c> line of <see cref="SamplePoints.ToLine(Telemetry.Abstractions.Alert)"/>: the
    /// <c>vin</c> and <c>status</c> tags, the start (its timestamp) and, when closed, the end (start + <c>durationS</c>).
    /// </summary>
    internal static bool TryParseAlert(ReadOnlySpan<byte> line, out string vin, out long start, out long end)
    {
        vin = "";
        start = end = 0;
        var headEnd = UnescapedIndexOf(line, (byte)' ');
        var last = line.LastIndexOf((byte)' ');
        if (headEnd < 0 || last <= headEnd || !Utf8Parser.TryParse(line[(last + 1)..], out start, out _))
            return false;
        var open = true;
        var head = line[..headEnd];
        while (!head.IsEmpty)
        {
            var comma = UnescapedIndexOf(head, (byte)',');
            var tag = comma < 0 ? head : head[..comma];
            head = comma < 0 ? [] : head[(comma + 1)..];
            if (tag.StartsWith("vin="u8))
                vin = Encoding.UTF8.GetString(tag[4..]);
            else if (tag.SequenceEqual("status=closed"u8))
                open = false;
        }

        end = long.MaxValue;
        if (!open)
        {
            var fields = line[(headEnd + 1)..last];
            var at = fields.IndexOf("durationS="u8);
            if (at < 0 || (at > 0 && fields[at - 1] != ','))
                return false;
            var value = fields[(at + "durationS=".Length)..];
            var stop = value.IndexOf((byte)',');
            if (!Utf8Parser.TryParse(stop < 0 ? value : value[..stop], out double duration, out _))
                return false;
            end = start + (long)Math.Ceiling(duration);
        }

        return vin.Length > 0;
    }

    private static int UnescapedIndexOf(ReadOnlySpan<byte> text, byte value)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\')
                i++;
            else if (text[i] == value)
                return i;
        }

        return -1;
    }

    private readonly record struct Episode(long Start, long End);
}
