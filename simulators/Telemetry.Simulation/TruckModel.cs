using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Simulation;

/// <summary>Kind of driving.</summary>
public enum DriveCycle
{
    /// <summary>Stop-and-go city driving: idles, 25-50 km/h, a cool SCR much of the time.</summary>
    Urban,
    /// <summary>Expressway: 70-90 km/h cruise with slowdowns, a warm SCR.</summary>
    Highway,
    /// <summary>Urban and highway blocks alternating.</summary>
    Mixed,
    /// <summary>Expressway at a steady 80 km/h on flat road: torque and speed barely vary.</summary>
    SteadyCruise,
}

/// <summary>Faults the model can inject, each one making one or more rules fire.</summary>
public enum Fault
{
    None,
    /// <summary>EGR off and SCR bypassed: tailpipe NOx far above 500 ppm (R1, R2).</summary>
    HighNox,
    /// <summary>SCR converts about 35 % (R3).</summary>
    LowScrEfficiency,
    /// <summary>Urea level sensor frozen by an emulator while dosing is off (R4 with R3).</summary>
    UreaLevelFrozen,
    /// <summary>Urea level rising while driving (R4).</summary>
    UreaLevelRising,
    /// <summary>Urea tank empty while driving, no dosing (R4).</summary>
    UreaEmpty,
    /// <summary>Downstream NOx held constant by an emulator (R5).</summary>
    NoxSensorStuck,
    /// <summary>Downstream NOx reads above upstream (R5).</summary>
    NoxDownstreamAboveUpstream,
    /// <summary>Downstream NOx pinned at the top of its range (R5).</summary>
    NoxSensorPinned,
    /// <summary>DPF removed: no pressure drop (R6).</summary>
    DpfRemoved,
    /// <summary>OBD no longer declares DPF monitoring (R6).</summary>
    DpfSupportBitCleared,
    /// <summary>Malfunction lamp on while driving (R7).</summary>
    MilOnDriving,
    /// <summary>ECU reflashed: calibration ID and CVN change at the start of the fault (R8).</summary>
    CalibrationChanged,
    /// <summary>Stored fault codes cleared at the start of the fault, readiness monitors reset (R8).</summary>
    DtcsClearedWithReadinessReset,
    /// <summary>Terminal sends nothing while the truck drives (R9 offline); it stores and re-issues the data later.</summary>
    TerminalOffline,
    /// <summary>No valid GNSS fix (R9 position).</summary>
    PositionInvalid,
    /// <summary>Position displaced by about 70 km (R9 jump).</summary>
    PositionJump,
    /// <summary>Terminal clock 120 s ahead (R9 clock).</summary>
    ClockSkew,
    /// <summary>About 40 % of the fields reported as not available (R9 fields).</summary>
    InvalidFields,
    /// <summary>Terminal raises a removal alarm (0x06) at the start of the fault (R9 removal).</summary>
    RemovalAlarm,
    /// <summary>Frames arrive corrupted (check code fails) during the fault (R9 check code).</summary>
    CheckCodeFailures,
    /// <summary>SCR inlet sensor raised out of the exhaust stream: it reads far below the real temperature (R10).</summary>
    ScrTempSensorRaised,
    /// <summary>Downstream NOx sensor unplugged: it reads -200 (not ready) while the engine works (R5).</summary>
    NoxSensorRemoved,
}

/// <summary>Parameters of the simulated truck.</summary>
public sealed class TruckModelOptions
{
    /// <summary>Route origin, degrees (Jinan by default).</summary>
    public double OriginLongitude { get; set; } = 117.0;
    public double OriginLatitude { get; set; } = 36.65;
    /// <summary>The route turns back toward the origin beyond this distance, km.</summary>
    public double RoamRadiusKm { get; set; } = 30;
    /// <summary>Engine reference torque, N m (the registry value for mg/kWh).</summary>
    public double ReferenceTorqueNm { get; set; } = 2200;
    /// <summary>Gross mass, kg.</summary>
    public double MassKg { get; set; } = 30_000;
    /// <summary>Ambient temperature at start, deg C; NaN picks 5-25 from the seed.</summary>
    public double AmbientC { get; set; } = double.NaN;
    /// <summary>Urea tank volume, L.</summary>
    public double UreaTankL { get; set; } = 80;
    /// <summary>Urea use as a share of fuel volume (3-8 % on China VI SCR engines).</summary>
    public double UreaShareOfFuel { get; set; } = 0.05;
    /// <summary>
    /// Seconds between OBD records after the one at key-on. Field firmware sends one record when OBD data
    /// becomes available and then rarely (once a day is legal): OBD state is last-known state.
    /// </summary>
    public int ObdIntervalSeconds { get; set; } = 1800;
    /// <summary>Seconds with the ignition on and the engine not yet running at the start (the MIL bulb check lights then).</summary>
    public int KeyOnSeconds { get; set; } = 5;
    /// <summary>Urea level at start, %; NaN picks 40-90 from the seed.</summary>
    public double InitialUreaPercent { get; set; } = double.NaN;
    /// <summary>Below this urea level the driver refills at the next stop (a 4 min stop, tank to 90 %), %.</summary>
    public double RefillBelowPercent { get; set; } = 15;
    /// <summary>DPF soot load (relative) at which an active regeneration starts (20 min, SCR inlet 500-600 deg C).</summary>
    public double RegenerationSootLoad { get; set; } = 1.3;
}

/// <summary>
/// A deterministic (per seed) physical model of a China VI heavy diesel truck at 1 Hz: drive-cycle
/// speed, gear and engine speed, road-load power and torque, fuel and intake air, coolant and SCR
/// warm-up, engine-out NOx by load, SCR conversion by temperature, urea use, DPF pressure drop,
/// odometer and a route near the origin; faults are injected over sample-time intervals.
/// </summary>
public sealed class TruckModel
{
    private const double Gravity = 9.81;
    private const double FuelDensity = 0.835;
    private static readonly double[] GearRpmPerKmh = [80, 55, 38, 27, 20, 15.5];

    private readonly Random _rng;
    private readonly DriveCycle _cycle;
    private readonly TruckModelOptions _o;
    private readonly List<(Fault Fault, DateTime From, DateTime To)> _faults = [];
    private readonly DateTime _startUtc;
    private readonly string _calibrationId;
    private readonly string _cvn;

    private double _v;                 // m/s
    private double _target;            // m/s
    private int _phase;                // 0 idle, 1 accelerate/cruise, 2 decelerate
    private double _phaseLeft;         // s
    private double _grade;
    private bool _highwayBlock;
    private double _blockLeft;
    private double _coolant;
    private double _scrIn;
    private double _scrOut;
    private double _ureaL;
    private double _fuelLevel;
    private double _odometer;
    private double _fuelUsedL;         // supplementary record (0x80): cumulative fuel
    private double _ureaUsedG;         // supplementary record (0x80): cumulative urea
    private double _lon;
    private double _lat;
    private double _heading;
    private double _soot;
    private double _regenLeft;
    private double _refillLeft;
    private double _sloshPhase;
    private double _frozenLevel = double.NaN;
    private double _risingExtra;
    private double _stuckValue = double.NaN;
    private bool _removalRaised;
    private Sample _last;
    private readonly double _ambient;
    private DateTime _keyOnUtc;        // when the ignition last turned on: the start, or the end of a park
    private bool _stopping;
    private int _restSeconds;

    /// <summary>Creates the model; the engine starts cold at <paramref name="startUtc"/>.</summary>
    public TruckModel(string vin, int seed, DriveCycle cycle, DateTime startUtc, TruckModelOptions? options = null)
    {
        Vin = vin;
        _rng = new Random(seed);
        _cycle = cycle;
        _o = options ?? new TruckModelOptions();
        _startUtc = DateTime.SpecifyKind(startUtc, DateTimeKind.Utc);
        NowUtc = _startUtc;
        var ambient = double.IsNaN(_o.AmbientC) ? 5 + (_rng.NextDouble() * 20) : _o.AmbientC;
        _ambient = ambient;
        _keyOnUtc = _startUtc;
        _coolant = ambient;
        _scrIn = ambient;
        _scrOut = ambient;
        _ureaL = _o.UreaTankL * (double.IsNaN(_o.InitialUreaPercent) ? 0.4 + (_rng.NextDouble() * 0.5) : _o.InitialUreaPercent / 100);
        _soot = 1.0 + (_rng.NextDouble() * 0.3);
        _fuelLevel = 50 + (_rng.NextDouble() * 45);
        _odometer = 20_000 + (_rng.NextDouble() * 280_000);
        _lon = _o.OriginLongitude + ((_rng.NextDouble() - 0.5) * 0.1);
        _lat = _o.OriginLatitude + ((_rng.NextDouble() - 0.5) * 0.1);
        _heading = _rng.NextDouble() * 2 * Math.PI;
        _highwayBlock = cycle is DriveCycle.Highway or DriveCycle.SteadyCruise;
        _blockLeft = 600;
        _phase = 0;
        _phaseLeft = 45 + _rng.Next(30);
        _calibrationId = $"CAL{seed % 100000:D5}V{1 + (seed % 7)}";
        _cvn = $"{(uint)(seed * 2654435761u):X8}";
    }

    /// <summary>The truck's VIN.</summary>
    public string Vin { get; }

    /// <summary>True time of the latest step (the terminal's clock may differ, see <see cref="TerminalClockOffset"/>).</summary>
    public DateTime NowUtc { get; private set; }

    /// <summary>Error of the terminal clock at <see cref="NowUtc"/>: sample time = NowUtc + offset.</summary>
    public TimeSpan TerminalClockOffset => Active(Fault.ClockSkew) ? TimeSpan.FromSeconds(120) : TimeSpan.Zero;

    /// <summary>TerminalOffline is active: the publisher sends nothing (the terminal stores data for re-issue).</summary>
    public bool IsSilent => Active(Fault.TerminalOffline);

    /// <summary>True for the one step at which a RemovalAlarm fault starts: the publisher sends a 0x06 frame.</summary>
    public bool PendingRemovalAlarm { get; private set; }

    /// <summary>CheckCodeFailures is active: frames of this step arrive with a bad check code.</summary>
    public bool FramesCorrupted => Active(Fault.CheckCodeFailures);

    /// <summary>The most recent sample.</summary>
    public Sample LastSample => _last;

    /// <summary>The registry record of this truck.</summary>
    public VehicleInfo Info(string? fleet = null, string? region = null) => new()
    {
        Vin = Vin,
        Fleet = fleet,
        Region = region,
        EngineModel = "SIM-D11",
        ReferenceTorqueNm = _o.ReferenceTorqueNm,
        EmissionStage = "China VI",
    };

    /// <summary>Injects <paramref name="fault"/> for sample times in [from, to).</summary>
    public void Inject(Fault fault, DateTime fromUtc, DateTime toUtc) => _faults.Add((fault, fromUtc, toUtc));

    /// <summary>
    /// The driver pulls over: the target speed becomes 0 and, 5 s after the truck is at rest, the engine
    /// stops; until <see cref="Park"/> each step then reports ignition on, engine off (zero engine speed).
    /// </summary>
    public void BeginStop()
    {
        _stopping = true;
        _restSeconds = 0;
    }

    /// <summary>True once the engine is off after <see cref="BeginStop"/>.</summary>
    public bool EngineStopped => _stopping && _restSeconds >= 5;

    /// <summary>
    /// Ignition off for <paramref name="duration"/>: no sample is produced for it, the clock moves on,
    /// coolant and SCR cool towards ambient, and the next step is a key-on as at the start.
    /// </summary>
    public void Park(TimeSpan duration)
    {
        var seconds = Math.Max(0, duration.TotalSeconds);
        NowUtc = NowUtc.AddSeconds(seconds);
        _coolant = _ambient + ((_coolant - _ambient) * Math.Exp(-seconds / 3600));
        _scrIn = _ambient + ((_scrIn - _ambient) * Math.Exp(-seconds / 1200));
        _scrOut = _ambient + ((_scrOut - _ambient) * Math.Exp(-seconds / 1500));
        _v = 0;
        _target = 0;
        _phase = 0;
        _phaseLeft = 45 + _rng.Next(30);
        _stopping = false;
        _restSeconds = 0;
        _keyOnUtc = NowUtc;
    }

    /// <summary>Advances one second and returns that second's sample.</summary>
    public Sample Step()
    {
        NowUtc = NowUtc.AddSeconds(1);
        var elapsed = (NowUtc - _startUtc).TotalSeconds;
        PendingRemovalAlarm = false;
        foreach (var (f, from, _) in _faults)
        {
            if (f == Fault.RemovalAlarm && !_removalRaised && NowUtc >= from)
            {
                _removalRaised = true;
                PendingRemovalAlarm = true;
            }
        }

        if ((NowUtc - _keyOnUtc).TotalSeconds <= _o.KeyOnSeconds)
            return KeyOn();

        DriveCycleStep(elapsed);
        if (_stopping)
            _target = 0;

        // Speed dynamics of a loaded truck.
        var dv = Math.Clamp(_target - _v, -1.0, 0.6);
        _v = Math.Max(0, _v + dv);
        // Asked to stop: after 5 s at rest the driver switches the engine off (ignition still on).
        if (EngineStopped || (_stopping && _v < 0.5 && ++_restSeconds >= 5))
        {
            _v = 0;
            return KeyOn();
        }
        var speedKmh = _v * 3.6;

        // Gear and engine speed.
        double rpm;
        if (_v < 0.5)
        {
            rpm = 650 + Noise(8);
        }
        else
        {
            rpm = speedKmh * GearRpmPerKmh[0];
            foreach (var k in GearRpmPerKmh)
            {
                rpm = speedKmh * k;
                if (speedKmh * k < 1700 && speedKmh * k >= 1000)
                    break;
            }
            rpm = Math.Clamp(rpm, 800, 2100) + Noise(10);
        }

        // Road load: inertia, rolling resistance, aerodynamic drag, grade; 8 % driveline loss, 3 kW accessories.
        // Grade: a mean-reverting random walk (typical +-0.5 %, at most 3 %).
        _grade = _cycle == DriveCycle.SteadyCruise ? 0 : Math.Clamp(_grade - (_grade / 300) + Noise(0.0003), -0.03, 0.03);
        var force = (_o.MassKg * dv) + (_o.MassKg * Gravity * 0.006) + (0.5 * 1.2 * 6.0 * _v * _v) + (_o.MassKg * Gravity * _grade);
        var wheelKw = _v < 0.5 ? 0 : force * _v / 1000.0;
        // Braking or descending with the throttle closed: the ECU cuts fuel and the engine is motored (engine braking).
        var motoring = wheelKw < -10;
        var engineKw = motoring ? 0 : Math.Max(0, wheelKw / 0.92) + 3;
        var maxKw = Math.PI * 2 * rpm / 60 * _o.ReferenceTorqueNm / 1000;
        engineKw = Math.Min(engineKw, maxKw);
        // Net (brake) torque; the ECU reports actual (indicated) torque = net + friction, and friction separately.
        var torquePct = Math.Clamp(engineKw * 1000 / (2 * Math.PI * rpm / 60) / _o.ReferenceTorqueNm * 100, 0, 100);
        var frictionPct = Math.Round(8 + (rpm * 0.003));
        var actualPct = motoring ? 0 : Math.Min(125, Math.Round(torquePct + frictionPct + Noise(0.5)));
        var load = torquePct / 100;

        var fuelLph = motoring ? 0 : (engineKw + 6) * 0.21 / FuelDensity * (1 + Noise(0.01));
        var airKgph = rpm / 60 * 0.0055 * 1.2 * (1 + (2 * load)) * 3600 * (1 + Noise(0.01));

        // Coolant warms with the heat of the fuel burned, up to the thermostat.
        if (_coolant < 86)
            _coolant += 0.01 + (fuelLph * 0.004);
        else
            _coolant = 86 + (3 * Math.Sin(elapsed / 300)) + Noise(0.2);

        // Exhaust temperature follows load; the SCR lags it. An active DPF regeneration (post-injection)
        // heats the exhaust to 500-600 deg C for about 20 min and burns the soot off.
        var exhaustTarget = 150 + (450 * load) + ((rpm - 650) * 0.03);
        if (_regenLeft <= 0 && _soot >= _o.RegenerationSootLoad && _v > 10)
            _regenLeft = 1200;
        if (_regenLeft > 0)
        {
            _regenLeft--;
            exhaustTarget = Math.Max(exhaustTarget, 560);
            _soot = Math.Max(0.9, _soot - 0.0004);
        }
        _scrIn += (exhaustTarget - _scrIn) / 100;
        _scrOut += (_scrIn - 10 - _scrOut) / 60;

        // Engine-out NOx by load.
        var up = motoring ? 5 + Math.Abs(Noise(2)) : (180 + (1000 * load)) * (_coolant < 60 ? 1.2 : 1.0) * (1 + Noise(0.03));
        if (Active(Fault.HighNox))
            up *= 1.6;

        var dosing = _scrIn > 200;
        var efficiency = 0.985 / (1 + Math.Exp(-(_scrIn - 205) / 12));
        if (Active(Fault.HighNox) || Active(Fault.UreaLevelFrozen) || Active(Fault.UreaEmpty))
        {
            efficiency = 0.08;
            dosing = false;
        }
        else if (Active(Fault.LowScrEfficiency))
        {
            efficiency = Math.Min(efficiency, 0.35);
        }
        var down = Math.Max(0.5, (up * (1 - efficiency)) + Noise(1.5));

        if (Active(Fault.NoxSensorStuck))
            down = double.IsNaN(_stuckValue) ? _stuckValue = Math.Round(down, 1) : _stuckValue;
        if (Active(Fault.NoxDownstreamAboveUpstream))
            down = (up * 1.08) + Noise(2);
        if (Active(Fault.NoxSensorPinned))
            down = 3012.75;
        if (Active(Fault.NoxSensorRemoved))
            down = -200;

        // Sensors report -200 ppm until they are warm (dew-point protection).
        if (elapsed < 90 || _scrIn < 100)
        {
            up = -200;
            down = -200;
        }

        // Urea: consumed when dosing; refilled at a stop when low; the level sensor reads in 0.4 % steps
        // and the liquid sloshes by 1-2 % while the truck moves.
        if (dosing)
            _ureaL = Math.Max(0, _ureaL - (fuelLph * _o.UreaShareOfFuel / 3600));
        if (_refillLeft > 0)
        {
            _refillLeft--;
            if (_refillLeft is > 60 and < 180)
                _ureaL = Math.Min(_o.UreaTankL * 0.9, _ureaL + (_o.UreaTankL * 0.9 / 100));
        }
        if (Active(Fault.UreaEmpty))
            _ureaL = 0;
        var truePercent = _ureaL / _o.UreaTankL * 100;
        _sloshPhase += (Math.Abs(dv) * 0.8) + (_v > 0.5 ? 0.15 : 0);
        var slosh = _v > 0.5 ? Math.Min(1.5, truePercent * 0.1) * Math.Sin(_sloshPhase) : 0;
        var level = Math.Max(0, Math.Floor((truePercent + slosh + (truePercent > 0 ? Noise(0.2) : 0)) / 0.4) * 0.4);
        if (Active(Fault.UreaLevelFrozen))
            level = double.IsNaN(_frozenLevel) ? _frozenLevel = level : _frozenLevel;
        if (Active(Fault.UreaLevelRising))
        {
            if (_v > 2 && ((long)elapsed % 30) == 0)
                _risingExtra += 0.4;
            level = Math.Min(100, level + _risingExtra);
        }

        // DPF pressure drop grows with exhaust flow and soot.
        var exhaustKgph = airKgph + (fuelLph * FuelDensity);
        var dp = 0.3 + (exhaustKgph * 0.009 * _soot) + Noise(0.1);
        _soot += 0.00003;
        if (Active(Fault.DpfRemoved))
            dp = 0.1 + Math.Abs(Noise(0.05));

        _fuelLevel = Math.Max(1, _fuelLevel - (fuelLph / 3600 / 400 * 100));
        _odometer += _v / 1000;
        // Supplementary record (0x80): actual dosing follows the urea the SCR gets (none when it does not dose).
        var dosingMlph = dosing ? fuelLph * _o.UreaShareOfFuel * 1000 : 0;
        _fuelUsedL += fuelLph / 3600;
        _ureaUsedG += dosingMlph / 3600 * 1.09;
        MoveAlongRoute();

        var lon = _lon;
        var lat = _lat;
        byte status = 0;
        if (Active(Fault.PositionJump))
            lon += 0.8;
        if (Active(Fault.PositionInvalid))
        {
            status = 1;
            lon = 0;
            lat = 0;
        }

        var s = new Sample
        {
            TimeUtc = NowUtc + TerminalClockOffset,
            SpeedKmh = Round(speedKmh, 1.0 / 256),
            BarometricPressureKpa = Round(100.5 + Noise(0.2), 0.5),
            EngineTorquePercent = actualPct,
            FrictionTorquePercent = frictionPct,
            EngineSpeedRpm = Round(rpm, 0.125),
            FuelFlowLph = Round(fuelLph, 0.05),
            NoxUpstreamPpm = Round(up, 0.05),
            NoxDownstreamPpm = Round(down, 0.05),
            ReagentLevelPercent = Round(level, 0.4),
            IntakeAirFlowKgph = Round(airKgph, 0.05),
            ScrInletTempC = Round((Active(Fault.ScrTempSensorRaised) ? 110 + (0.15 * _scrIn) : _scrIn) + Noise(1.0), 0.03125),
            ScrOutletTempC = Round(_scrOut + Noise(1.0), 0.03125),
            DpfPressureDropKpa = Round(Math.Max(0, dp), 0.1),
            CoolantTempC = Math.Round(_coolant),
            FuelLevelPercent = Round(_fuelLevel, 0.4),
            PositionStatus = status,
            Longitude = Math.Round(lon, 6),
            Latitude = Math.Round(lat, 6),
            OdometerKm = Round(_odometer, 0.1),
            Supplementary = new SupplementaryStream
            {
                EngineTorqueMode = torquePct > 0 ? 1 : 0,
                AcceleratorPedalPercent = Round(Math.Min(100, torquePct), 0.4),
                TotalFuelUsedL = Round(_fuelUsedL, 0.5),
                UreaTankTempC = Math.Round(Math.Min(_coolant, 35)),
                UreaDosingMlph = Round(dosingMlph, 0.01),
                TotalUreaUsedG = Math.Round(_ureaUsedG),
                DpfExhaustTempC = Round(_scrIn + 12, 0.03125),
            },
        };
        if (Active(Fault.InvalidFields))
            s = BlankFields(s);
        _last = s;
        return s;
    }

    /// <summary>Ignition on, engine not yet running: zero engine speed, NOx sensors not ready.</summary>
    private Sample KeyOn()
    {
        var s = new Sample
        {
            TimeUtc = NowUtc + TerminalClockOffset,
            SpeedKmh = 0,
            BarometricPressureKpa = Round(100.5 + Noise(0.2), 0.5),
            EngineTorquePercent = 0,
            FrictionTorquePercent = 0,
            EngineSpeedRpm = 0,
            FuelFlowLph = 0,
            NoxUpstreamPpm = -200,
            NoxDownstreamPpm = -200,
            ReagentLevelPercent = Math.Floor(_ureaL / _o.UreaTankL * 100 / 0.4) * 0.4,
            IntakeAirFlowKgph = 0,
            ScrInletTempC = Round(_scrIn, 0.03125),
            ScrOutletTempC = Round(_scrOut, 0.03125),
            DpfPressureDropKpa = 0,
            CoolantTempC = Math.Round(_coolant),
            FuelLevelPercent = Round(_fuelLevel, 0.4),
            PositionStatus = 0,
            Longitude = Math.Round(_lon, 6),
            Latitude = Math.Round(_lat, 6),
            OdometerKm = Round(_odometer, 0.1),
        };
        _last = s;
        return s;
    }

    /// <summary>The OBD record as of <see cref="NowUtc"/>.</summary>
    public ObdSnapshot CurrentObd()
    {
        var support = (ushort)(DiagnosticBits.Catalyst | DiagnosticBits.Dpf | DiagnosticBits.ScrNoxAdsorber | DiagnosticBits.ComprehensiveComponents | DiagnosticBits.EgrVvt);
        if (Active(Fault.DpfSupportBitCleared))
            support &= unchecked((ushort)~DiagnosticBits.Dpf);
        ushort readiness = 0;
        var dtcs = ImmutableArray<uint>.Empty;
        var mil = false;
        var clearFault = _faults.FirstOrDefault(f => f.Fault == Fault.DtcsClearedWithReadinessReset);
        if (clearFault.Fault == Fault.DtcsClearedWithReadinessReset)
        {
            if (NowUtc < clearFault.From)
                dtcs = [0x00A1B201u, 0x00C4D502u];
            else if (NowUtc < clearFault.To)
                readiness = DiagnosticBits.Catalyst | DiagnosticBits.Dpf | DiagnosticBits.ScrNoxAdsorber;
        }
        if (Active(Fault.MilOnDriving))
        {
            mil = true;
            dtcs = [0x00B3E101u];
        }
        else if ((NowUtc - _startUtc).TotalSeconds <= _o.KeyOnSeconds)
        {
            // The bulb check: the lamp lights at key-on with no fault behind it.
            mil = true;
        }
        var recal = _faults.Any(f => f.Fault == Fault.CalibrationChanged && NowUtc >= f.From);
        return new ObdSnapshot
        {
            TimeUtc = NowUtc + TerminalClockOffset,
            ObdProtocol = 2,
            MilOn = mil,
            DiagnosticSupport = support,
            DiagnosticReadiness = readiness,
            Vin = Vin,
            CalibrationId = recal ? _calibrationId + "X" : _calibrationId,
            Cvn = recal ? "DEADBEEF" : _cvn,
            Iupr = [.. new byte[36]],
            Dtcs = dtcs,
        };
    }

    /// <summary>True when an OBD record is due at this step.</summary>
    public bool ObdDue
    {
        get
        {
            var elapsed = (long)(NowUtc - _startUtc).TotalSeconds;
            return elapsed == Math.Max(1, _o.KeyOnSeconds - 2) || elapsed % Math.Max(1, _o.ObdIntervalSeconds) == 0;
        }
    }

    private void DriveCycleStep(double elapsed)
    {
        if (_cycle == DriveCycle.Mixed)
        {
            _blockLeft--;
            if (_blockLeft <= 0)
            {
                _highwayBlock = !_highwayBlock;
                _blockLeft = _highwayBlock ? 1200 : 600;
            }
        }
        _phaseLeft--;
        // Low on urea: the next stop becomes a 4 min refill stop.
        if (_refillLeft <= 0 && _v < 0.5 && _ureaL / _o.UreaTankL * 100 < _o.RefillBelowPercent && elapsed > 120)
            _refillLeft = 240;
        if (_refillLeft > 0)
        {
            _target = 0;
            return;
        }
        if (_cycle == DriveCycle.SteadyCruise)
        {
            _target = elapsed > 60 ? 80 / 3.6 : 0;
            return;
        }
        var highway = _highwayBlock && elapsed > 120;
        if (highway)
        {
            if (_phaseLeft <= 0)
            {
                _phaseLeft = 60 + _rng.Next(240);
                _target = (_rng.NextDouble() < 0.15 ? 45 + _rng.Next(15) : 72 + _rng.Next(18)) / 3.6;
            }
            return;
        }
        if (_phaseLeft > 0)
            return;
        switch (_phase)
        {
            case 0:
                _phase = 1;
                _target = (25 + _rng.Next(25)) / 3.6;
                _phaseLeft = 60 + _rng.Next(90);
                break;
            case 1:
                _phase = 2;
                _target = 0;
                _phaseLeft = 20;
                break;
            default:
                _phase = 0;
                _target = 0;
                _phaseLeft = 15 + _rng.Next(40);
                break;
        }
    }

    private void MoveAlongRoute()
    {
        if (_v < 0.5)
            return;
        _heading += Noise(0.02);
        var dy = (_lat - _o.OriginLatitude) * 111.32;
        var dx = (_lon - _o.OriginLongitude) * 111.32 * Math.Cos(_lat * Math.PI / 180);
        if (Math.Sqrt((dx * dx) + (dy * dy)) > _o.RoamRadiusKm)
        {
            var back = Math.Atan2(-dx, -dy);
            _heading += Math.Clamp(Math.IEEERemainder(back - _heading, 2 * Math.PI), -0.05, 0.05);
        }
        var km = _v / 1000;
        _lat += km * Math.Cos(_heading) / 111.32;
        _lon += km * Math.Sin(_heading) / (111.32 * Math.Cos(_lat * Math.PI / 180));
    }

    private Sample BlankFields(Sample s)
    {
        foreach (var field in SampleFields.Diesel)
        {
            if (field.Name is "longitude" or "latitude")
                continue;
            if (_rng.NextDouble() < 0.4)
                s = field.With(s, double.NaN);
        }
        return s;
    }

    private bool Active(Fault fault)
    {
        foreach (var (f, from, to) in _faults)
        {
            if (f == fault && NowUtc >= from && NowUtc < to)
                return true;
        }
        return false;
    }

    private double Noise(double sd)
    {
        // Box-Muller: a normal deviate from two uniform ones.
        var u1 = 1.0 - _rng.NextDouble();
        var u2 = _rng.NextDouble();
        return sd * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static double Round(double value, double resolution) => Math.Round(value / resolution) * resolution;
}
