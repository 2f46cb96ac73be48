using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Tests;

internal static class TestData
{
    private const string VinAlphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";

    /// <summary>A fresh valid VIN, so that tests sharing one server never see each other's data.</summary>
    public static string NewVin(string prefix = "LSTOR")
    {
        var chars = new char[17];
        prefix.CopyTo(0, chars, 0, prefix.Length);
        for (var i = prefix.Length; i < chars.Length; i++)
            chars[i] = VinAlphabet[Random.Shared.Next(VinAlphabet.Length)];
        return new string(chars);
    }

    /// <summary>A sample with every field present and distinct values derived from <paramref name="seed"/>.</summary>
    public static Sample FullSample(DateTime timeUtc, int seed = 0)
    {
        var sample = Sample.Empty(timeUtc) with { PositionStatus = 0 };
        for (var i = 0; i < SampleFields.All.Count; i++)
            sample = SampleFields.All[i].With(sample, Value(i, seed));
        return sample;
    }

    /// <summary>The value <see cref="FullSample"/> gives field number <paramref name="fieldIndex"/>.</summary>
    public static double Value(int fieldIndex, int seed) => Math.Round(10 * fieldIndex + seed * 0.25 + 0.5, 2);

    /// <summary>A time a few minutes ago, whole second, UTC: inside every store's retention.</summary>
    public static DateTime RecentSecond(int minutesAgo = 10)
    {
        var now = DateTime.UtcNow.AddMinutes(-minutesAgo);
        return new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    public static Alert Alert(string vin, string rule = "R1", DateTime? startUtc = null, int revision = 1,
        AlertStatus status = AlertStatus.Open, string? fleet = "fleet-a", AlertSeverity severity = AlertSeverity.Warning)
    {
        var start = startUtc ?? new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
        return new Alert
        {
            Id = Abstractions.Alert.MakeId(vin, rule, start),
            RuleId = rule,
            RuleName = "NOx concentration",
            Severity = severity,
            Status = status,
            Vin = vin,
            Fleet = fleet,
            StartUtc = start,
            LastHeldUtc = start.AddSeconds(300),
            EndUtc = status == AlertStatus.Closed ? start.AddSeconds(600) : null,
            Thresholds = ImmutableSortedDictionary<string, double>.Empty.Add("noxPpm", 500),
            Measured = ImmutableSortedDictionary<string, double>.Empty.Add("meanNoxPpm", 812.4),
            Position = new GeoFix(117.0, 36.6, true),
            Evidence = [FullSample(start), Sample.Empty(start.AddSeconds(1))],
            Summary = "30 s mean downstream NOx 812.4 ppm above 500 ppm for 300 s.",
            Revision = revision,
        };
    }
}
