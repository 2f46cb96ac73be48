using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>
/// A vehicle's recent positions in a compact ring: at most one fix per <see cref="IntervalSeconds"/> of sample
/// time, for the last <see cref="WindowSeconds"/>. Each fix is 12 bytes (seconds since 2000-01-01 UTC, longitude
/// and latitude in whole microdegrees, the protocol's own resolution, so nothing is rounded away); the array
/// grows with use up to <see cref="Capacity"/> fixes (181 by default: about 2.2 KiB, one per 20 s for an hour; every
/// vehicle holds one, so it counts in the memory per vehicle). A vehicle that never had a
/// valid fix costs the empty object.
/// </summary>
/// <remarks>
/// The track follows the live timeline: a fix older than the newest one kept (out of order, re-issued backlog) is
/// ignored; the time-series store has every sample. Invalid positions (tunnels, no fix) are skipped. Pure and not
/// thread-safe: one instance belongs to one vehicle grain.
/// </remarks>
public sealed class PositionTrack
{
    /// <summary>Default spacing of kept fixes.</summary>
    public const int DefaultIntervalSeconds = 20;

    /// <summary>Default span kept.</summary>
    public const int DefaultWindowSeconds = 3600;

    private const double Micro = 1_000_000;
    private static readonly long EpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private Fix[] _ring = [];
    private int _start;
    private int _count;

    /// <summary>Creates an empty track.</summary>
    /// <param name="intervalSeconds">Least sample time between two kept fixes (at least 1).</param>
    /// <param name="windowSeconds">Sample time kept before the newest fix (at least <paramref name="intervalSeconds"/>).</param>
    public PositionTrack(int intervalSeconds = DefaultIntervalSeconds, int windowSeconds = DefaultWindowSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervalSeconds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSeconds, intervalSeconds);
        IntervalSeconds = intervalSeconds;
        WindowSeconds = windowSeconds;
        Capacity = windowSeconds / intervalSeconds + 1;
    }

    /// <summary>Least sample time between two kept fixes.</summary>
    public int IntervalSeconds { get; }

    /// <summary>Sample time kept before the newest fix.</summary>
    public int WindowSeconds { get; }

    /// <summary>Most fixes held.</summary>
    public int Capacity { get; }

    /// <summary>Fixes held.</summary>
    public int Count => _count;

    /// <summary>Bytes of the fix array (the memory this track holds beyond its small object).</summary>
    public int ArrayBytes => _ring.Length * Marshal.SizeOf<Fix>();

    /// <summary>Sample time of the newest fix, or null when the track is empty.</summary>
    public DateTime? NewestUtc => _count == 0 ? null : ToTime(Newest.Second);

    private ref Fix Newest => ref _ring[(_start + _count - 1) % _ring.Length];

    /// <summary>Keeps the sample's position when it is valid and at least an interval newer than the newest fix.</summary>
    /// <returns>True when the fix was kept.</returns>
    public bool Add(in Sample sample) => sample.PositionValid && Add(sample.TimeUtc, sample.Longitude, sample.Latitude);

    /// <summary>Keeps a fix when it is plausible and at least an interval newer than the newest fix.</summary>
    /// <returns>True when the fix was kept.</returns>
    public bool Add(DateTime timeUtc, double longitude, double latitude)
    {
        if (!(Math.Abs(longitude) <= 180) || !(Math.Abs(latitude) <= 90))
            return false;
        var seconds = (timeUtc.Ticks - EpochTicks) / TimeSpan.TicksPerSecond;
        if (seconds is < 0 or > int.MaxValue)
            return false;
        var second = (int)seconds;
        if (_count > 0 && second < (long)Newest.Second + IntervalSeconds)
            return false;

        var fix = new Fix(second, (int)Math.Round(longitude * Micro), (int)Math.Round(latitude * Micro));
        if (_count == _ring.Length && _ring.Length < Capacity)
            Grow();
        if (_count == _ring.Length)
        {
            // Full at capacity: the newest replaces the oldest.
            _ring[_start] = fix;
            _start = (_start + 1) % _ring.Length;
        }
        else
        {
            _ring[(_start + _count) % _ring.Length] = fix;
            _count++;
        }
        // After a silence the fixes from before the window go.
        while (_count > 1 && _ring[_start].Second < (long)second - WindowSeconds)
        {
            _start = (_start + 1) % _ring.Length;
            _count--;
        }
        return true;
    }

    /// <summary>
    /// The fixes of the last <paramref name="seconds"/> before the newest fix (that one included), oldest first.
    /// </summary>
    public ImmutableArray<TrackPoint> Recent(int seconds)
    {
        if (_count == 0 || seconds < 0)
            return [];
        var from = (long)Newest.Second - seconds;
        var builder = ImmutableArray.CreateBuilder<TrackPoint>(_count);
        for (var i = 0; i < _count; i++)
        {
            ref readonly var fix = ref _ring[(_start + i) % _ring.Length];
            if (fix.Second >= from)
                builder.Add(new TrackPoint(ToTime(fix.Second), fix.LongitudeMicro / Micro, fix.LatitudeMicro / Micro));
        }
        return builder.ToImmutable();
    }

    private void Grow()
    {
        var grown = new Fix[Math.Min(Capacity, Math.Max(8, _ring.Length * 2))];
        for (var i = 0; i < _count; i++)
            grown[i] = _ring[(_start + i) % _ring.Length];
        _ring = grown;
        _start = 0;
    }

    private static DateTime ToTime(int second) => new(EpochTicks + second * TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private readonly record struct Fix(int Second, int LongitudeMicro, int LatitudeMicro);
}

/// <summary>One position of a vehicle's track.</summary>
/// <param name="TimeUtc">Sample time.</param>
/// <param name="Longitude">Degrees, negative west.</param>
/// <param name="Latitude">Degrees, negative south.</param>
[GenerateSerializer, Immutable]
public readonly record struct TrackPoint(
    [property: Id(0)] DateTime TimeUtc,
    [property: Id(1)] double Longitude,
    [property: Id(2)] double Latitude);
