using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// The 1-minute aggregates of the <c>adaptive</c> policy: per vehicle, the mean, minimum and maximum of
/// each non-core field over each minute of sample time, written as one <see cref="AdaptiveFields.AggregateMeasurement"/>
/// line at the start of the minute once the minute is over for that vehicle (a sample of another minute
/// arrived, or none came for <see cref="IdleFlush"/>).
/// </summary>
/// <remarks>
/// Live samples and re-issued history of the same vehicle are aggregated apart, so a backlog (in either
/// order) never splits the live minute. The minute in progress is held in memory (about 300 bytes a
/// vehicle): after a crash it is aggregated from the samples that came after the restart only; the samples
/// themselves are all in the journal either way. A minute completed by a write that the journal then
/// refused (disk cap) is held by <see cref="Journal.JournalTimeSeriesSink"/> and goes with its next record.
/// </remarks>
internal sealed class MinuteAggregates(TimeProvider time)
{
    /// <summary>A minute with no new sample for this long is written out by <see cref="FlushIdle"/>.</summary>
    public static readonly TimeSpan IdleFlush = TimeSpan.FromSeconds(90);

    private static readonly byte[][] MeanKeys = Keys("_mean");
    private static readonly byte[][] MinKeys = Keys("_min");
    private static readonly byte[][] MaxKeys = Keys("_max");
    private static readonly int[] DetailIndexes = AdaptiveFields.DetailIndexes;
    private readonly ConcurrentDictionary<string, Vehicle> _vehicles = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="samples"/>; writes the minutes they complete to <paramref name="output"/> (lines joined by <c>\n</c>, after what it holds).</summary>
    public void Add(SeriesKey series, IReadOnlyList<Sample> samples, ArrayBufferWriter<byte> output)
    {
        if (DetailIndexes.Length == 0)
            return;
        while (true)
        {
            var vehicle = _vehicles.GetOrAdd(series.Vin, static (_, s) => new Vehicle(s), series);
            lock (vehicle)
            {
                if (vehicle.Removed)
                    continue; // written out by the idle flush a moment ago: start a new one
                vehicle.Series = series;
                vehicle.LastAddTicks = time.GetTimestamp();
                foreach (var sample in samples)
                {
                    var minute = LineProtocol.ToUnixSeconds(sample.TimeUtc) / 60;
                    var live = vehicle.Live.Minute == 0 || minute >= vehicle.Live.Minute;
                    var into = live ? vehicle.Live : vehicle.Backfill;
                    if (into.Minute != minute)
                    {
                        into.WriteTo(vehicle.Series, output);
                        into.Start(minute);
                    }

                    into.Add(sample);
                }

                return;
            }
        }
    }

    /// <summary>Writes out and forgets the minutes of vehicles idle for <see cref="IdleFlush"/> (all with <paramref name="all"/>).</summary>
    public void FlushIdle(ArrayBufferWriter<byte> output, bool all = false)
    {
        var now = time.GetTimestamp();
        foreach (var (vin, vehicle) in _vehicles)
        {
            lock (vehicle)
            {
                if (!all && time.GetElapsedTime(vehicle.LastAddTicks, now) < IdleFlush)
                    continue;
                vehicle.Live.WriteTo(vehicle.Series, output);
                vehicle.Backfill.WriteTo(vehicle.Series, output);
                vehicle.Removed = true;
                _vehicles.TryRemove(new KeyValuePair<string, Vehicle>(vin, vehicle));
            }
        }
    }

    private static byte[][] Keys(string suffix) =>
        [.. AdaptiveFields.DetailIndexes.Select(i => Encoding.UTF8.GetBytes(SampleFields.All[i].Name + suffix + "="))];

    private sealed class Vehicle(SeriesKey series)
    {
        public SeriesKey Series { get; set; } = series;
        public long LastAddTicks { get; set; }
        public bool Removed { get; set; }
        public MinuteTotals Live { get; } = new();
        public MinuteTotals Backfill { get; } = new();
    }

    private sealed class MinuteTotals
    {
        private readonly double[] _sum = new double[DetailIndexes.Length];
        private readonly double[] _min = new double[DetailIndexes.Length];
        private readonly double[] _max = new double[DetailIndexes.Length];
        private readonly int[] _count = new int[DetailIndexes.Length];
        private int _samples;
        private ulong _seconds;

        /// <summary>Unix minute held (0: none).</summary>
        public long Minute { get; private set; }

        public void Start(long minute)
        {
            Minute = minute;
            _samples = 0;
            _seconds = 0;
            Array.Clear(_sum);
            Array.Clear(_count);
        }

        public void Add(in Sample sample)
        {
            // A second counts once: a write retried after a journal failure brings the same samples again.
            var bit = 1UL << (int)(LineProtocol.ToUnixSeconds(sample.TimeUtc) % 60);
            if ((_seconds & bit) != 0)
                return;
            _seconds |= bit;
            _samples++;
            for (var i = 0; i < DetailIndexes.Length; i++)
            {
                var value = SampleFields.Value(sample, DetailIndexes[i]);
                if (!double.IsFinite(value))
                    continue;
                if (_count[i]++ == 0)
                {
                    _min[i] = value;
                    _max[i] = value;
                }
                else
                {
                    _min[i] = Math.Min(_min[i], value);
                    _max[i] = Math.Max(_max[i], value);
                }

                _sum[i] += value;
            }
        }

        /// <summary>Writes the aggregate line (nothing when no field had a value) and empties the minute.</summary>
        public void WriteTo(SeriesKey series, ArrayBufferWriter<byte> output)
        {
            var minute = Minute;
            Minute = 0;
            if (minute == 0 || _samples == 0 || Array.TrueForAll(_count, c => c == 0))
                return;

            var head = SamplePoints.SeriesHead(series, AdaptiveFields.AggregateMeasurement);
            var span = output.GetSpan(1 + head.Length + DetailIndexes.Length * 3 * 64 + 64);
            var at = 0;
            if (output.WrittenCount > 0)
                span[at++] = (byte)'\n';
            head.CopyTo(span[at..]);
            at += head.Length;
            var separator = ' ';
            for (var i = 0; i < DetailIndexes.Length; i++)
            {
                if (_count[i] == 0)
                    continue;
                at = Field(span, at, separator, MeanKeys[i], _sum[i] / _count[i]);
                at = Field(span, at, ',', MinKeys[i], _min[i]);
                at = Field(span, at, ',', MaxKeys[i], _max[i]);
                separator = ',';
            }

            ",samples="u8.CopyTo(span[at..]);
            at += ",samples=".Length;
            Utf8Formatter.TryFormat(_samples, span[at..], out var count);
            at += count;
            span[at++] = (byte)'i';
            span[at++] = (byte)' ';
            Utf8Formatter.TryFormat(minute * 60, span[at..], out var timestamp);
            output.Advance(at + timestamp);
        }

        private static int Field(Span<byte> span, int at, char separator, byte[] key, double value)
        {
            span[at++] = (byte)separator;
            key.CopyTo(span[at..]);
            at += key.Length;
            DecimalText.TryWrite(value, span[at..], out var written);
            return at + written;
        }
    }
}
