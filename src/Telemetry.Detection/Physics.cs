using System.Runtime.CompilerServices;

namespace Telemetry.Detection;

/// <summary>The physics the rules use (RULES.md of this project, "Physics").</summary>
public static class Physics
{
    /// <summary>Exhaust mass flow, kg/h = intake air (kg/h) + fuel (L/h) x density (kg/L).</summary>
    public static double ExhaustFlowKgph(double intakeAirKgph, double fuelLph, double fuelDensityKgPerL) =>
        intakeAirKgph + (fuelLph * fuelDensityKgPerL);

    /// <summary>NOx mass flow, g/h = factor x NOx (ppm) x exhaust mass flow (kg/h); 0.001586 is the raw-exhaust factor for diesel.</summary>
    public static double NoxMassFlowGph(double noxPpm, double exhaustKgph, double factor) => factor * noxPpm * exhaustKgph;

    /// <summary>Engine power, kW = torque % / 100 x reference torque (N m) x rpm x 2 pi / 60 / 1000.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double EnginePowerKw(double torquePercent, double referenceTorqueNm, double rpm) =>
        torquePercent / 100.0 * referenceTorqueNm * rpm * 2 * Math.PI / 60.0 / 1000.0;

    /// <summary>
    /// Brake (net) power, kW: (actual - friction) torque % / 100 x reference torque x rpm x 2 pi / 60 / 1000.
    /// J1939 actual engine torque is indicated torque and includes what overcomes friction; the
    /// engine's output is the difference. Negative net power (engine braking, motoring) counts as 0.
    /// A missing friction torque counts as 0 (the unit does not report it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double BrakePowerKw(double actualTorquePercent, double frictionTorquePercent, double referenceTorqueNm, double rpm)
    {
        var net = actualTorquePercent - (double.IsNaN(frictionTorquePercent) ? 0 : frictionTorquePercent);
        return net <= 0 ? 0 : EnginePowerKw(net, referenceTorqueNm, rpm);
    }

    /// <summary>Great-circle distance between two fixes, km.</summary>
    public static double DistanceKm(double lon1, double lat1, double lon2, double lat2)
    {
        const double R = 6371.0088;
        var dLat = (lat2 - lat1) * Math.PI / 180;
        var dLon = (lon2 - lon1) * Math.PI / 180;
        var a = (Math.Sin(dLat / 2) * Math.Sin(dLat / 2)) +
                (Math.Cos(lat1 * Math.PI / 180) * Math.Cos(lat2 * Math.PI / 180) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2));
        return 2 * R * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }
}
