using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>Each field of the 37-byte diesel record, decoded from hand-made frames: resolution, offset, markers, range edges.</summary>
public sealed class DieselFieldTests
{
    [Theory]
    // speedKmh: 2 bytes, 1/256 km/h
    [InlineData("speedKmh", 0, "0000", 0.0)]
    [InlineData("speedKmh", 0, "0001", 0.00390625)]
    [InlineData("speedKmh", 0, "5000", 80.0)]
    [InlineData("speedKmh", 0, "FAFF", 250.99609375)]
    [InlineData("speedKmh", 0, "FB00", double.NaN)]
    [InlineData("speedKmh", 0, "FE12", double.NaN)]
    [InlineData("speedKmh", 0, "FFFF", double.NaN)]
    // barometricPressureKpa: 1 byte, 0.5 kPa
    [InlineData("barometricPressureKpa", 2, "00", 0.0)]
    [InlineData("barometricPressureKpa", 2, "C5", 98.5)]
    [InlineData("barometricPressureKpa", 2, "FA", 125.0)]
    [InlineData("barometricPressureKpa", 2, "FB", double.NaN)]
    [InlineData("barometricPressureKpa", 2, "FE", double.NaN)]
    [InlineData("barometricPressureKpa", 2, "FF", double.NaN)]
    // engineTorquePercent: 1 byte, offset -125
    [InlineData("engineTorquePercent", 3, "00", -125.0)]
    [InlineData("engineTorquePercent", 3, "7D", 0.0)]
    [InlineData("engineTorquePercent", 3, "FA", 125.0)]
    [InlineData("engineTorquePercent", 3, "FB", double.NaN)]
    [InlineData("engineTorquePercent", 3, "FE", double.NaN)]
    [InlineData("engineTorquePercent", 3, "FF", double.NaN)]
    // frictionTorquePercent: 1 byte, offset -125
    [InlineData("frictionTorquePercent", 4, "00", -125.0)]
    [InlineData("frictionTorquePercent", 4, "83", 6.0)]
    [InlineData("frictionTorquePercent", 4, "FA", 125.0)]
    [InlineData("frictionTorquePercent", 4, "FE", double.NaN)]
    [InlineData("frictionTorquePercent", 4, "FF", double.NaN)]
    // engineSpeedRpm: 2 bytes, 0.125 rpm
    [InlineData("engineSpeedRpm", 5, "0001", 0.125)]
    [InlineData("engineSpeedRpm", 5, "3E80", 2000.0)]
    [InlineData("engineSpeedRpm", 5, "FAFF", 8031.875)]
    [InlineData("engineSpeedRpm", 5, "FB00", double.NaN)]
    [InlineData("engineSpeedRpm", 5, "FEFF", double.NaN)]
    [InlineData("engineSpeedRpm", 5, "FFFF", double.NaN)]
    // fuelFlowLph: 2 bytes, 0.05 L/h
    [InlineData("fuelFlowLph", 7, "0001", 0.05)]
    [InlineData("fuelFlowLph", 7, "0014", 1.0)]
    [InlineData("fuelFlowLph", 7, "FAFF", 3212.75)]
    [InlineData("fuelFlowLph", 7, "FB00", double.NaN)]
    [InlineData("fuelFlowLph", 7, "FFFF", double.NaN)]
    // noxUpstreamPpm: 2 bytes, 0.05 ppm, offset -200
    [InlineData("noxUpstreamPpm", 9, "0000", -200.0)]
    [InlineData("noxUpstreamPpm", 9, "0FA0", 0.0)]
    [InlineData("noxUpstreamPpm", 9, "0FA1", 0.05)]
    [InlineData("noxUpstreamPpm", 9, "2710", 300.0)]
    [InlineData("noxUpstreamPpm", 9, "FAFF", 3012.75)]
    [InlineData("noxUpstreamPpm", 9, "FB00", double.NaN)]
    [InlineData("noxUpstreamPpm", 9, "FE00", double.NaN)]
    [InlineData("noxUpstreamPpm", 9, "FFFF", double.NaN)]
    // noxDownstreamPpm: 2 bytes, 0.05 ppm, offset -200
    [InlineData("noxDownstreamPpm", 11, "0000", -200.0)]
    [InlineData("noxDownstreamPpm", 11, "1388", 50.0)]
    [InlineData("noxDownstreamPpm", 11, "FAFF", 3012.75)]
    [InlineData("noxDownstreamPpm", 11, "FE34", double.NaN)]
    [InlineData("noxDownstreamPpm", 11, "FFFF", double.NaN)]
    // reagentLevelPercent: 1 byte, 0.4 %
    [InlineData("reagentLevelPercent", 13, "00", 0.0)]
    [InlineData("reagentLevelPercent", 13, "61", 38.8)]
    [InlineData("reagentLevelPercent", 13, "FA", 100.0)]
    [InlineData("reagentLevelPercent", 13, "FB", double.NaN)]
    [InlineData("reagentLevelPercent", 13, "FE", double.NaN)]
    // intakeAirFlowKgph: 2 bytes, 0.05 kg/h
    [InlineData("intakeAirFlowKgph", 14, "0001", 0.05)]
    [InlineData("intakeAirFlowKgph", 14, "1770", 300.0)]
    [InlineData("intakeAirFlowKgph", 14, "FAFF", 3212.75)]
    [InlineData("intakeAirFlowKgph", 14, "FFFF", double.NaN)]
    // scrInletTempC: 2 bytes, 0.03125 deg C, offset -273
    [InlineData("scrInletTempC", 16, "0000", -273.0)]
    [InlineData("scrInletTempC", 16, "2220", 0.0)]
    [InlineData("scrInletTempC", 16, "2221", 0.03125)]
    [InlineData("scrInletTempC", 16, "4160", 250.0)]
    [InlineData("scrInletTempC", 16, "FAFF", 1734.96875)]
    [InlineData("scrInletTempC", 16, "FB00", double.NaN)]
    [InlineData("scrInletTempC", 16, "FEFF", double.NaN)]
    // scrOutletTempC: 2 bytes, 0.03125 deg C, offset -273
    [InlineData("scrOutletTempC", 18, "0000", -273.0)]
    [InlineData("scrOutletTempC", 18, "4160", 250.0)]
    [InlineData("scrOutletTempC", 18, "FAFF", 1734.96875)]
    [InlineData("scrOutletTempC", 18, "FFFF", double.NaN)]
    // dpfPressureDropKpa: 2 bytes, 0.1 kPa
    [InlineData("dpfPressureDropKpa", 20, "0001", 0.1)]
    [InlineData("dpfPressureDropKpa", 20, "0005", 0.5)]
    [InlineData("dpfPressureDropKpa", 20, "FAFF", 6425.5)]
    [InlineData("dpfPressureDropKpa", 20, "FB00", double.NaN)]
    [InlineData("dpfPressureDropKpa", 20, "FEFF", double.NaN)]
    // coolantTempC: 1 byte, offset -40
    [InlineData("coolantTempC", 22, "00", -40.0)]
    [InlineData("coolantTempC", 22, "3D", 21.0)]
    [InlineData("coolantTempC", 22, "FA", 210.0)]
    [InlineData("coolantTempC", 22, "FB", double.NaN)]
    [InlineData("coolantTempC", 22, "FF", double.NaN)]
    // fuelLevelPercent: 1 byte, 0.4 %
    [InlineData("fuelLevelPercent", 23, "7D", 50.0)]
    [InlineData("fuelLevelPercent", 23, "FA", 100.0)]
    [InlineData("fuelLevelPercent", 23, "FE", double.NaN)]
    // longitude: 4 bytes, 1e-6 degree, 0-180
    [InlineData("longitude", 25, "00000000", 0.0)]
    [InlineData("longitude", 25, "06AFD317", 112.186135)]
    [InlineData("longitude", 25, "0ABA9500", 180.0)]
    [InlineData("longitude", 25, "0ABA9501", double.NaN)]
    [InlineData("longitude", 25, "FEFFFFFF", double.NaN)]
    [InlineData("longitude", 25, "FFFFFFFF", double.NaN)]
    // latitude: 4 bytes, 1e-6 degree, 0-90
    [InlineData("latitude", 29, "01EA55FE", 32.134654)]
    [InlineData("latitude", 29, "055D4A80", 90.0)]
    [InlineData("latitude", 29, "055D4A81", double.NaN)]
    [InlineData("latitude", 29, "FFFFFFFF", double.NaN)]
    // odometerKm: 4 bytes, 0.1 km, 0-999,999.9
    [InlineData("odometerKm", 33, "00000001", 0.1)]
    [InlineData("odometerKm", 33, "00000028", 4.0)]
    [InlineData("odometerKm", 33, "0098967F", 999999.9)]
    [InlineData("odometerKm", 33, "00989680", double.NaN)]
    [InlineData("odometerKm", 33, "FAFFFFFF", double.NaN)]
    [InlineData("odometerKm", 33, "FEFFFFFF", double.NaN)]
    [InlineData("odometerKm", 33, "FFFFFFFF", double.NaN)]
    public void Decode_FieldBytes_YieldTheScaledValueOrMissing(string field, int offset, string hex, double expected)
    {
        var body = HandFrames.DieselBody((offset, hex), (24, "00"));

        var sample = DecodeSingle(body);

        var accessor = SampleFields.All.Single(f => f.Name == field);
        Assert.Equal(expected, accessor.Get(sample));
        foreach (var other in SampleFields.All.Where(f => f.Name != field))
            Assert.True(double.IsNaN(other.Get(sample)), $"{other.Name} should be missing when only {field} is set");
    }

    [Theory]
    [InlineData("00", 112.186135, 32.134654, true)]
    [InlineData("02", 112.186135, -32.134654, true)]
    [InlineData("04", -112.186135, 32.134654, true)]
    [InlineData("06", -112.186135, -32.134654, true)]
    [InlineData("01", 112.186135, 32.134654, false)]
    [InlineData("07", -112.186135, -32.134654, false)]
    public void Decode_PositionStatusBits_SignCoordinatesAndKeepValidity(string status, double longitude, double latitude, bool valid)
    {
        var body = HandFrames.DieselBody((24, status), (25, "06AFD317"), (29, "01EA55FE"));

        var sample = DecodeSingle(body);

        Assert.Equal(longitude, sample.Longitude);
        Assert.Equal(latitude, sample.Latitude);
        Assert.Equal(valid, sample.PositionValid);
        Assert.Equal(Convert.ToByte(status, 16), sample.PositionStatus);
    }

    [Fact]
    public void Decode_PositionStatusUpperBits_AreKeptRaw()
    {
        var sample = DecodeSingle(HandFrames.DieselBody((24, "F8"), (25, "06AFD317"), (29, "01EA55FE")));

        Assert.Equal(0xF8, sample.PositionStatus);
        Assert.True(sample.PositionValid);
    }

    [Fact]
    public void Decode_MissingCoordinateWithValidBit_IsNotAValidPosition()
    {
        var sample = DecodeSingle(HandFrames.DieselBody((24, "00"), (25, "FFFFFFFF"), (29, "01EA55FE")));

        Assert.True(double.IsNaN(sample.Longitude));
        Assert.False(sample.PositionValid);
    }

    [Fact]
    public void FieldScales_FollowSampleFieldsOrder()
    {
        Assert.Equal(SampleFields.Diesel.Select(f => f.Name), DieselFields.All.Select(f => f.Name));
        Assert.Equal(SampleFields.Supplementary.Select(f => f.Name), SupplementaryFields.All.Select(f => f.Name));
        Assert.Equal(SampleFields.All.Select(f => f.Name), SupplementaryFields.Canonical.Select(f => f.Name));
    }

    private static Sample DecodeSingle(string body)
    {
        var frame = HandFrames.GbDieselFrame(body);
        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, HandFrames.Vin, DateTime.UtcNow, out var batch, out var rejection), rejection.ToString());
        return Assert.Single(batch.Samples);
    }
}
