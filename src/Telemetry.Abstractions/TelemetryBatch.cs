using System.Collections.Immutable;

namespace Telemetry.Abstractions;

/// <summary>What a frame tells the vehicle: its command, as the vehicle grain sees it.</summary>
public enum FrameKind : byte
{
    Login = 0x01,
    RealTime = 0x02,
    Reissue = 0x03,
    Logout = 0x04,
    TimeSync = 0x05,
    RemovalAlarm = 0x06,
}

/// <summary>A position fix in degrees (negative west/south).</summary>
[GenerateSerializer, Immutable]
public readonly record struct GeoFix(
    [property: Id(0)] double Longitude,
    [property: Id(1)] double Latitude,
    [property: Id(2)] bool Valid);

/// <summary>
/// One decoded frame's worth of data for one vehicle: the unit of work of a vehicle grain call.
/// Samples are in the order the frame carried them; their times are sample times, not arrival times.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record class TelemetryBatch(
    [property: Id(0)] string Vin,
    [property: Id(1)] FrameKind Kind,
    [property: Id(2)] DateTime FrameTimeUtc,
    [property: Id(3)] ushort Serial,
    [property: Id(4)] ImmutableArray<Sample> Samples,
    [property: Id(5)] ImmutableArray<ObdSnapshot> Obd,
    [property: Id(6)] DateTime ReceivedUtc)
{
    /// <summary>SIM card ICCID of a login frame.</summary>
    [Id(7)] public string? Iccid { get; init; }

    /// <summary>Position reported by a removal alarm (0x06).</summary>
    [Id(8)] public GeoFix? AlarmPosition { get; init; }

    /// <summary>True for data the terminal stored while offline and re-issued (command 0x03).</summary>
    public bool IsReissue => Kind == FrameKind.Reissue;
}
