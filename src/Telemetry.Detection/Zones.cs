using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace Telemetry.Detection;

/// <summary>The zone a point lies in, and whether its restricted hours are in force at the asked time.</summary>
/// <param name="Name">Zone name (GeoJSON property <c>name</c>).</param>
/// <param name="Restricted">True when the zone has no restricted hours (always in force) or the time falls in them.</param>
/// <param name="HasRestrictedHours">True when the zone declares restricted hours.</param>
public readonly record struct ZoneHit(string Name, bool Restricted, bool HasRestrictedHours);

/// <summary>Low-emission zones: point-in-polygon with optional restricted hours. Implementations are thread-safe.</summary>
public interface IZoneIndex
{
    /// <summary>The zone containing the point at <paramref name="timeUtc"/>, or null. Restricted zones win over unrestricted ones.</summary>
    ZoneHit? Find(double longitude, double latitude, DateTime timeUtc);
}

/// <summary>
/// Zones loaded from a GeoJSON FeatureCollection of Polygon/MultiPolygon features with properties
/// <c>name</c> (string) and optional <c>restrictedHours</c> (<c>"07:00-22:00"</c>, or several
/// separated by commas; a range may wrap midnight) in local time at <see cref="Rules.ZoneOptions.UtcOffsetHours"/>.
/// Immutable; to change zones build a new index and swap the reference.
/// </summary>
public sealed class ZoneIndex : IZoneIndex
{
    private static readonly JsonSerializerOptions GeoJsonOptions = new() { Converters = { new GeoJsonConverterFactory() } };

    private readonly Zone[] _zones;
    private readonly TimeSpan _utcOffset;

    private ZoneIndex(Zone[] zones, TimeSpan utcOffset)
    {
        _zones = zones;
        _utcOffset = utcOffset;
    }

    /// <summary>Number of zones.</summary>
    public int Count => _zones.Length;

    /// <summary>Zone names, in file order.</summary>
    public IReadOnlyList<string> Names => Array.ConvertAll(_zones, z => z.Name);

    /// <summary>An index without zones.</summary>
    public static ZoneIndex Empty { get; } = new([], TimeSpan.FromHours(8));

    /// <summary>Parses GeoJSON text. Throws <see cref="FormatException"/> naming the bad feature.</summary>
    public static ZoneIndex FromGeoJson(string geoJson, double utcOffsetHours = 8)
    {
        ArgumentNullException.ThrowIfNull(geoJson);
        FeatureCollection? collection;
        try
        {
            collection = JsonSerializer.Deserialize<FeatureCollection>(geoJson, GeoJsonOptions);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Zone GeoJSON is not a valid FeatureCollection: {ex.Message}", ex);
        }
        if (collection is null)
            throw new FormatException("Zone GeoJSON is empty.");
        var zones = new List<Zone>();
        for (var i = 0; i < collection.Count; i++)
        {
            var feature = collection[i];
            var name = feature.Attributes?.Exists("name") == true ? feature.Attributes["name"]?.ToString() : null;
            name = string.IsNullOrWhiteSpace(name) ? $"zone-{i + 1}" : name;
            if (feature.Geometry is not (Polygon or MultiPolygon))
                throw new FormatException($"Zone feature {i} ({name}) is not a Polygon or MultiPolygon.");
            var hoursText = feature.Attributes?.Exists("restrictedHours") == true ? feature.Attributes["restrictedHours"]?.ToString() : null;
            var hours = ParseHours(hoursText, name);
            var locator = new IndexedPointInAreaLocator(feature.Geometry);
            // Build the lazy index now, so that concurrent lookups only read.
            _ = locator.Locate(feature.Geometry.Centroid.Coordinate);
            zones.Add(new Zone(name, feature.Geometry.EnvelopeInternal, locator, hours));
        }
        return new ZoneIndex([.. zones], TimeSpan.FromHours(utcOffsetHours));
    }

    /// <inheritdoc />
    public ZoneHit? Find(double longitude, double latitude, DateTime timeUtc)
    {
        if (double.IsNaN(longitude) || double.IsNaN(latitude))
            return null;
        ZoneHit? best = null;
        Coordinate? point = null;
        foreach (var zone in _zones)
        {
            if (!zone.Envelope.Contains(longitude, latitude))
                continue;
            point ??= new Coordinate(longitude, latitude);
            if (zone.Locator.Locate(point) == Location.Exterior)
                continue;
            var restricted = zone.Hours.Length == 0 || InHours(zone.Hours, timeUtc + _utcOffset);
            var hit = new ZoneHit(zone.Name, restricted, zone.Hours.Length > 0);
            if (restricted)
                return hit;
            best ??= hit;
        }
        return best;
    }

    private static bool InHours((int From, int To)[] hours, DateTime local)
    {
        var minute = (local.Hour * 60) + local.Minute;
        foreach (var (from, to) in hours)
        {
            if (from <= to ? minute >= from && minute < to : minute >= from || minute < to)
                return true;
        }
        return false;
    }

    private static (int From, int To)[] ParseHours(string? text, string zone)
    {
        if (string.IsNullOrWhiteSpace(text))
            return [];
        var result = new List<(int, int)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length != 2 || !TryMinute(ends[0], out var from) || !TryMinute(ends[1], out var to))
                throw new FormatException($"Zone {zone}: restrictedHours \"{part}\" is not of the form HH:mm-HH:mm.");
            result.Add((from, to));
        }
        return [.. result];
    }

    private static bool TryMinute(string text, out int minute)
    {
        minute = 0;
        if (text == "24:00")
        {
            minute = 24 * 60;
            return true;
        }
        if (!TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
            return false;
        minute = (t.Hour * 60) + t.Minute;
        return true;
    }

    private sealed record Zone(string Name, Envelope Envelope, IndexedPointInAreaLocator Locator, (int From, int To)[] Hours);
}
