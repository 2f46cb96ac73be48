using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

public sealed class AcceptedSamplesTests
{
    [Fact]
    public void OnBatch_DuplicatesAndRejectsBetweenNewSamples_StoresOnlyNewOnesInTimeOrder()
    {
        var d = new Drive();
        d.Send([Drive.Warm(1), Drive.Warm(2)]);
        d.Accepted.Clear();

        // A duplicate, a sample without time and one too far ahead of arrival, between new samples.
        var batch = new TelemetryBatch(Drive.Vin, FrameKind.RealTime, Drive.At(3), 2,
            [Drive.Warm(3), Drive.Warm(2), Drive.Warm(4), Sample.Empty(default), Drive.Warm(5), Drive.Warm(5), Drive.Warm(200_000), Drive.Warm(6)],
            [], Drive.At(10));
        var r = d.Detector.OnBatch(batch, d.Changes, d.Accepted);

        Assert.Equal(4, r.Accepted);
        Assert.Equal(2, r.Duplicates);
        Assert.Equal(2, r.Rejected);
        Assert.Equal([Drive.At(3), Drive.At(4), Drive.At(5), Drive.At(6)], d.Accepted.Select(s => s.TimeUtc));
    }
}
