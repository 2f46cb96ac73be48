using Telemetry.Simulation;

namespace Telemetry.Detection.Tests;

/// <summary>
/// A truck that pulls over, switches off, stays parked and starts again (the load harness's ignition-off
/// periods): the detector raises nothing, and the same silence with the engine still running is an
/// offline episode.
/// </summary>
public sealed class ParkingTests
{
    private const int DriveSeconds = 40 * 60;
    private const int ParkSeconds = 3 * 60;

    private static (Drive Drive, TruckModel Model) DriveThenStop(bool switchOff)
    {
        var model = new TruckModel(Drive.Vin, 11, DriveCycle.Highway, Drive.T0);
        var drive = new Drive().Run(DriveSeconds, _ => model.Step());
        if (switchOff)
            model.BeginStop();
        // A minute to pull over: the last frames before the silence show the engine stopped.
        drive.Run(60, _ => model.Step());
        return (drive, model);
    }

    [Fact]
    public void PullOverSwitchOffParkAndRestart_RaisesNothing()
    {
        var (drive, model) = DriveThenStop(switchOff: true);
        Assert.True(model.EngineStopped);
        Assert.Equal(0, model.LastSample.EngineSpeedRpm);

        drive.Silence(ParkSeconds);
        model.Park(TimeSpan.FromSeconds(ParkSeconds));
        drive.ContinueAt(drive.Second + ParkSeconds).Run(15 * 60, _ => model.Step());

        Assert.Empty(drive.OpenedRules);
        Assert.Equal(Drive.At(drive.Second), model.NowUtc);
        Assert.True(model.LastSample.EngineSpeedRpm > 500);
    }

    [Fact]
    public void SameSilenceWithTheEngineRunning_IsAnOfflineEpisode()
    {
        var (drive, model) = DriveThenStop(switchOff: false);
        Assert.False(model.EngineStopped);

        drive.Silence(ParkSeconds);

        Assert.Equal(1, drive.Opened("R9.offline"));
    }

    [Fact]
    public void Park_KeyOnAgain_ThenDrivesWithACoolerEngine()
    {
        var model = new TruckModel(Drive.Vin, 11, DriveCycle.Highway, Drive.T0, new TruckModelOptions { AmbientC = 10 });
        for (var i = 0; i < DriveSeconds; i++)
            model.Step();
        var warmCoolant = model.LastSample.CoolantTempC;
        var warmScr = model.LastSample.ScrInletTempC;
        model.BeginStop();
        for (var i = 0; i < 60; i++)
            model.Step();

        model.Park(TimeSpan.FromHours(2));
        var keyOn = Enumerable.Range(0, 5).Select(_ => model.Step()).ToList();
        var driving = Enumerable.Range(0, 120).Select(_ => model.Step()).ToList();

        Assert.All(keyOn, s => Assert.Equal(0, s.EngineSpeedRpm));
        Assert.True(keyOn[0].CoolantTempC < warmCoolant - 20, $"coolant {keyOn[0].CoolantTempC} after 2 h parked, {warmCoolant} before");
        Assert.True(keyOn[0].ScrInletTempC < warmScr - 150, $"SCR {keyOn[0].ScrInletTempC} after 2 h parked, {warmScr} before");
        Assert.Contains(driving, s => s.EngineSpeedRpm > 500);
        Assert.Equal(Drive.T0.AddSeconds(DriveSeconds + 60 + 7200 + 125), model.NowUtc);
    }
}
