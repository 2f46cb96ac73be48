using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>Structural equality of batches (records compare immutable arrays by reference, so this compares contents).</summary>
internal static class BatchAssert
{
    public static void Equal(TelemetryBatch expected, TelemetryBatch actual)
    {
        Assert.Equal(expected.Vin, actual.Vin);
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.FrameTimeUtc, actual.FrameTimeUtc);
        Assert.Equal(DateTimeKind.Utc, actual.FrameTimeUtc.Kind);
        Assert.Equal(expected.Serial, actual.Serial);
        Assert.Equal(expected.Iccid, actual.Iccid);
        Assert.Equal(expected.AlarmPosition, actual.AlarmPosition);
        Assert.Equal(expected.Samples.Length, actual.Samples.Length);
        for (var i = 0; i < expected.Samples.Length; i++)
        {
            Assert.Equal(expected.Samples[i], actual.Samples[i]);
            Assert.Equal(DateTimeKind.Utc, actual.Samples[i].TimeUtc.Kind);
        }
        Assert.Equal(expected.Obd.Length, actual.Obd.Length);
        for (var i = 0; i < expected.Obd.Length; i++)
            Equal(expected.Obd[i], actual.Obd[i]);
    }

    public static void Equal(ObdSnapshot expected, ObdSnapshot actual)
    {
        Assert.Equal(expected.TimeUtc, actual.TimeUtc);
        Assert.Equal(expected.ObdProtocol, actual.ObdProtocol);
        Assert.Equal(expected.MilOn, actual.MilOn);
        Assert.Equal(expected.DiagnosticSupport, actual.DiagnosticSupport);
        Assert.Equal(expected.DiagnosticReadiness, actual.DiagnosticReadiness);
        Assert.Equal(expected.Vin, actual.Vin);
        Assert.Equal(expected.CalibrationId, actual.CalibrationId);
        Assert.Equal(expected.Cvn, actual.Cvn);
        Assert.Equal(expected.Iupr.AsSpan().ToArray(), actual.Iupr.AsSpan().ToArray());
        Assert.Equal(expected.Dtcs.AsSpan().ToArray(), actual.Dtcs.AsSpan().ToArray());
    }
}
