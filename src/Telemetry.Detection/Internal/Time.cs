using System.Runtime.CompilerServices;

namespace Telemetry.Detection.Internal;

/// <summary>Sample time as whole Unix seconds.</summary>
internal static class Time
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ToSecond(DateTime utc) => (utc.Ticks - EpochTicks) / TimeSpan.TicksPerSecond;

    public static DateTime FromSecond(long second) => new(EpochTicks + (second * TimeSpan.TicksPerSecond), DateTimeKind.Utc);
}
