using Orleans.Runtime;

namespace Telemetry.Grains;

/// <summary>
/// References to vehicle grains for the per-frame path. <c>GetGrain&lt;IVehicleGrain&gt;(vin)</c> resolves the
/// interface's Orleans type names on every call (formatting and parsing the .NET type name, a few hundred
/// bytes of garbage each time); here they are resolved once and each reference is built from the VIN alone.
/// </summary>
public static class VehicleGrains
{
    private sealed record Types(GrainType Grain, GrainInterfaceType Interface);

    private static Types? s_types;

    /// <summary>The grain of <paramref name="vin"/>: the same reference as <c>GetGrain&lt;IVehicleGrain&gt;(vin)</c>.</summary>
    public static IVehicleGrain GetVehicle(this IGrainFactory grains, string vin)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentException.ThrowIfNullOrEmpty(vin);
        var types = s_types ??= Resolve(grains);
        return (IVehicleGrain)grains.GetGrain(GrainId.Create(types.Grain, IdSpan.Create(vin)), types.Interface);
    }

    private static Types Resolve(IGrainFactory grains)
    {
        // Resolved the usual way, once: the grain type from the id, the interface type from the reference.
        var reference = (GrainReference)grains.GetGrain<IVehicleGrain>("resolve");
        return new Types(reference.GetGrainId().Type, reference.InterfaceType);
    }
}
