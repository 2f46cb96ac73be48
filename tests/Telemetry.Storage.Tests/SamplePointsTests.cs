using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Tests;

public sealed class SamplePointsTests
{
    private static readonly DateTime Time = new(2026, 3, 1, 8, 30, 15, DateTimeKind.Utc);
    private const long TimeSeconds = 1772353815;

    /// <summary>Splits a line into measurement+tags, fields and timestamp (no escaped spaces in these tests).</summary>
    private static (string Head, Dictionary<string, string> Fields, string Timestamp) Parse(string line)
    {
        var parts = line.Split(' ');
        Assert.Equal(3, parts.Length);
        var fields = parts[1].Split(',').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        return (parts[0], fields, parts[2]);
    }

    [Fact]
    public void ToLine_VehicleInTheRegistry_TagsItsFleetAndRegionAfterTheVin()
    {
        var vehicle = new VehicleInfo { Vin = "LGDCHA1G8MA127733", Fleet = "jinan-haulage", Region = "370100" };

        var (head, _, _) = Parse(SamplePoints.ToLine(SeriesKey.For("LGDCHA1G8MA127733", vehicle), TestData.FullSample(Time)));

        Assert.Equal("hdv,vin=LGDCHA1G8MA127733,fleet=jinan-haulage,region=370100", head);
    }

    [Theory]
    [InlineData("LGDCHA1G8MA127733", null, null, "hdv,vin=LGDCHA1G8MA127733")]
    [InlineData("LGDCHA1G8MA127733", "", "", "hdv,vin=LGDCHA1G8MA127733")]
    [InlineData("LGDCHA1G8MA127733", null, "鲁A", "hdv,vin=LGDCHA1G8MA127733,region=鲁A")]
    [InlineData("LGDCHA1G8MA127733", "济南 运输", "37,01", "hdv,vin=LGDCHA1G8MA127733,fleet=济南\\ 运输,region=37\\,01")]
    [InlineData("LGDCHA1G8MA127733", "a=b", "c\\d", "hdv,vin=LGDCHA1G8MA127733,fleet=a\\=b,region=c/d")]
    [InlineData("LGDCHA1G8MA127733", "line\nbreak", null, "hdv,vin=LGDCHA1G8MA127733,fleet=line\\ break")]
    public void SeriesHead_WithOrWithoutCharactersToEscape_IsTheEscapedUtf8Head(string vin, string? fleet, string? region, string expected)
    {
        var head = SamplePoints.SeriesHead(new SeriesKey(vin, fleet, region));

        Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(head));
    }

    [Fact]
    public void ToLine_FullSample_WritesEveryCanonicalFieldWithItsValue()
    {
        var sample = TestData.FullSample(Time, seed: 3);

        var (head, fields, timestamp) = Parse(SamplePoints.ToLine("LGDCHA1G8MA127733", sample));

        Assert.Equal("hdv,vin=LGDCHA1G8MA127733", head);
        Assert.Equal(TimeSeconds.ToString(CultureInfo.InvariantCulture), timestamp);
        Assert.Equal(SampleFields.All.Count + 2, fields.Count);
        for (var i = 0; i < SampleFields.All.Count; i++)
        {
            var name = SampleFields.All[i].Name;
            Assert.True(fields.ContainsKey(name), $"field {name} is missing");
            Assert.Equal(TestData.Value(i, 3), double.Parse(fields[name], CultureInfo.InvariantCulture));
        }

        Assert.Equal("true", fields["positionValid"]);
        Assert.Equal("0i", fields["positionStatus"]);
    }

    [Fact]
    public void ToLine_EachMissingField_IsOmittedNotWrittenAsANumber()
    {
        foreach (var missing in SampleFields.All)
        {
            var sample = missing.With(TestData.FullSample(Time), double.NaN);

            var (_, fields, _) = Parse(SamplePoints.ToLine("LGDCHA1G8MA127733", sample));

            Assert.False(fields.ContainsKey(missing.Name), $"{missing.Name} was written although missing");
            Assert.Equal(SampleFields.All.Count + 1, fields.Count);
            Assert.DoesNotContain(fields.Values, v => v.Contains("NaN", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public void ToLine_EmptySample_KeepsOnlyThePositionFields()
    {
        var line = SamplePoints.ToLine("LGDCHA1G8MA127733", Sample.Empty(Time));

        Assert.Equal($"hdv,vin=LGDCHA1G8MA127733 positionValid=false,positionStatus=1i {TimeSeconds}", line);
    }

    [Fact]
    public void ToLine_InfiniteValue_IsOmitted()
    {
        var sample = TestData.FullSample(Time) with { SpeedKmh = double.PositiveInfinity, OdometerKm = double.NegativeInfinity };

        var (_, fields, _) = Parse(SamplePoints.ToLine("LGDCHA1G8MA127733", sample));

        Assert.False(fields.ContainsKey("speedKmh"));
        Assert.False(fields.ContainsKey("odometerKm"));
    }

    [Fact]
    public void ToLine_PositionStatusSouthWestValid_WritesStatusBitsAndValidFlag()
    {
        var sample = TestData.FullSample(Time) with { PositionStatus = 0b110 };

        var (_, fields, _) = Parse(SamplePoints.ToLine("LGDCHA1G8MA127733", sample));

        Assert.Equal("6i", fields["positionStatus"]);
        Assert.Equal("true", fields["positionValid"]);
    }

    [Fact]
    public void ToLine_NegativeNoxAndSmallValues_AreWrittenInInvariantRoundTripForm()
    {
        var sample = Sample.Empty(Time) with { NoxDownstreamPpm = -200, FuelFlowLph = 0.05, Latitude = 32.134654 };

        var (_, fields, _) = Parse(SamplePoints.ToLine("LGDCHA1G8MA127733", sample));

        Assert.Equal("-200", fields["noxDownstreamPpm"]);
        Assert.Equal("0.05", fields["fuelFlowLph"]);
        Assert.Equal("32.134654", fields["latitude"]);
    }

    [Fact]
    public void ToLine_SubSecondTime_IsTruncatedToTheSecond()
    {
        var line = SamplePoints.ToLine("LGDCHA1G8MA127733", Sample.Empty(Time.AddMilliseconds(999)));

        Assert.EndsWith($" {TimeSeconds}", line);
    }

    [Fact]
    public void ToLine_UnspecifiedKindTime_IsTakenAsUtc()
    {
        var line = SamplePoints.ToLine("LGDCHA1G8MA127733", Sample.Empty(DateTime.SpecifyKind(Time, DateTimeKind.Unspecified)));

        Assert.EndsWith($" {TimeSeconds}", line);
    }

    [Fact]
    public void ToLine_VinWithSpecialCharacters_IsEscaped()
    {
        var line = SamplePoints.ToLine("A B,C=D", Sample.Empty(Time));

        Assert.StartsWith(@"hdv,vin=A\ B\,C\=D positionValid=", line);
    }

    [Fact]
    public void ToLines_SeveralSamples_OneLinePerSampleInOrder()
    {
        Sample[] samples = [TestData.FullSample(Time), TestData.FullSample(Time.AddSeconds(1)), Sample.Empty(Time.AddSeconds(2))];

        var lines = SamplePoints.ToLines("LGDCHA1G8MA127733", samples);

        Assert.Equal(3, lines.Length);
        Assert.Equal([TimeSeconds, TimeSeconds + 1, TimeSeconds + 2], lines.Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)));
        Assert.All(lines, l => Assert.DoesNotContain('\n', l));
    }

    [Fact]
    public void SampleFieldsValue_EveryIndex_IsThatFieldsGetter()
    {
        // Distinct values, so that two indexes mapped to one property would show.
        var sample = Sample.Empty(Time);
        for (var i = 0; i < SampleFields.All.Count; i++)
            sample = SampleFields.All[i].With(sample, 1000 + i + 0.5);

        for (var i = 0; i < SampleFields.All.Count; i++)
            Assert.Equal(SampleFields.All[i].Get(sample), SampleFields.Value(sample, i));
        Assert.True(double.IsNaN(SampleFields.Value(sample, SampleFields.All.Count)));
        Assert.True(double.IsNaN(SampleFields.Value(Sample.Empty(Time), SampleFields.All.Count - 1))); // no supplementary record
    }

    [Fact]
    public void WriteLines_AnyValues_SameTextAsFieldByFieldRenderingAndEveryNumberRoundTrips()
    {
        var random = new Random(17691);
        double[] awkward = [0.1, -0.0, 1e21, 1e-7, double.Epsilon, double.MaxValue, -double.MaxValue, 1.0 / 3, 123456.789, -200,
            double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        var samples = new List<Sample>();
        for (var i = 0; i < 200; i++)
        {
            var sample = Sample.Empty(Time.AddSeconds(i)) with { PositionStatus = (byte)random.Next(256) };
            foreach (var field in SampleFields.All)
            {
                var value = random.Next(4) switch
                {
                    0 => awkward[random.Next(awkward.Length)],
                    1 => BitConverter.Int64BitsToDouble(random.NextInt64()),
                    _ => Math.Round((random.NextDouble() - 0.3) * 2000, random.Next(8)),
                };
                sample = field.With(sample, value);
            }
            samples.Add(sample);
        }
        var series = new SeriesKey("LGDCHA1G8MA127733", "fleet a,b", "370100");
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();

        var written = SamplePoints.WriteLines(buffer, series, samples);

        var lines = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n');
        Assert.Equal(buffer.WrittenCount, written);
        Assert.Equal(samples.Count, lines.Length);
        for (var i = 0; i < samples.Count; i++)
        {
            var sample = samples[i];
            var fields = SampleFields.All.Where(f => double.IsFinite(f.Get(sample)))
                .Select(f => $"{f.Name}={f.Get(sample).ToString("R", CultureInfo.InvariantCulture)}")
                .Append($"positionValid={(sample.PositionValid ? "true" : "false")}")
                .Append($"positionStatus={sample.PositionStatus}i");
            var expected = $@"hdv,vin=LGDCHA1G8MA127733,fleet=fleet\ a\,b,region=370100 {string.Join(',', fields)} {TimeSeconds + i}";
            Assert.Equal(expected, lines[i]);
            foreach (var field in SampleFields.All.Where(f => double.IsFinite(f.Get(sample))))
            {
                var text = lines[i].Split(' ')[^2].Split(',').Single(f => f.StartsWith(field.Name + "=", StringComparison.Ordinal))[(field.Name.Length + 1)..];
                Assert.Equal(BitConverter.DoubleToInt64Bits(field.Get(sample)), BitConverter.DoubleToInt64Bits(double.Parse(text, CultureInfo.InvariantCulture)));
            }
        }
    }

    [Fact]
    public void ToLine_Alert_HasTagsPrefixedFieldsRevisionDurationAndStartTime()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time, revision: 4) with
        {
            Zone = "jinan-lez",
            Thresholds = ImmutableSortedDictionary<string, double>.Empty.Add("noxPpm", 500).Add("minSeconds", 300),
            Measured = ImmutableSortedDictionary<string, double>.Empty.Add("meanNoxPpm", 812.4).Add("heldSeconds", 310),
        };

        var (head, fields, timestamp) = Parse(SamplePoints.ToLine(alert));

        Assert.Equal("hdv_alert,fleet=fleet-a,rule=R1,severity=warning,status=open,vin=LGDCHA1G8MA127733,zone=jinan-lez", head);
        Assert.Equal(TimeSeconds.ToString(CultureInfo.InvariantCulture), timestamp);
        Assert.Equal("812.4", fields["measured_meanNoxPpm"]);
        Assert.Equal("310", fields["measured_heldSeconds"]);
        Assert.Equal("500", fields["threshold_noxPpm"]);
        Assert.Equal("300", fields["threshold_minSeconds"]);
        Assert.Equal("4i", fields["revision"]);
        Assert.Equal("300", fields["durationS"]);
        Assert.Equal("36.6", fields["latitude"]);
        Assert.Equal("117", fields["longitude"]);
        Assert.Equal(8, fields.Count);
    }

    [Fact]
    public void ToLine_ClosedAlert_DurationRunsToTheEndAndStatusIsClosed()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time, status: AlertStatus.Closed, severity: AlertSeverity.Critical);

        var (head, fields, _) = Parse(SamplePoints.ToLine(alert));

        Assert.Contains(",status=closed", head, StringComparison.Ordinal);
        Assert.Contains(",severity=critical", head, StringComparison.Ordinal);
        Assert.Equal("600", fields["durationS"]);
    }

    [Fact]
    public void ToLine_AlertWithoutFleetOrZone_LeavesThoseTagsOut()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time, fleet: null) with { Zone = "" };

        var (head, _, _) = Parse(SamplePoints.ToLine(alert));

        Assert.Equal("hdv_alert,rule=R1,severity=warning,status=open,vin=LGDCHA1G8MA127733", head);
    }

    [Fact]
    public void ToLine_AlertWithRegionAndWithoutValidPosition_TagsRegionAndLeavesPositionOut()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time) with { Region = "370100", Position = new GeoFix(117.0, 36.6, false) };

        var (head, fields, _) = Parse(SamplePoints.ToLine(alert));

        Assert.Equal("hdv_alert,fleet=fleet-a,region=370100,rule=R1,severity=warning,status=open,vin=LGDCHA1G8MA127733", head);
        Assert.False(fields.ContainsKey("latitude"));
        Assert.False(fields.ContainsKey("longitude"));
    }

    [Fact]
    public void ToLine_AlertWithNaNMeasurement_OmitsThatField()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time) with
        {
            Measured = ImmutableSortedDictionary<string, double>.Empty.Add("meanNoxPpm", double.NaN).Add("heldSeconds", 12),
        };

        var (_, fields, _) = Parse(SamplePoints.ToLine(alert));

        Assert.False(fields.ContainsKey("measured_meanNoxPpm"));
        Assert.Equal("12", fields["measured_heldSeconds"]);
    }

    [Fact]
    public void ToLine_AlertFleetWithSpacesCommasAndEquals_IsEscaped()
    {
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Time, fleet: "Fleet A, north=1");

        var line = SamplePoints.ToLine(alert);

        Assert.StartsWith(@"hdv_alert,fleet=Fleet\ A\,\ north\=1,rule=R1,", line);
    }
}
