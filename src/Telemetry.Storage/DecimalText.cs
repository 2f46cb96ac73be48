using System.Buffers.Text;

namespace Telemetry.Storage;

/// <summary>
/// The text of a double as <c>double.ToString("R", InvariantCulture)</c> writes it, through a fast path
/// for the values telemetry carries: a field decoded from a terminal is an integer times a decimal
/// resolution (0.1 km/h, 0.05 ppm, 1e-6 degree), so it has a short decimal form with at most
/// <see cref="MaxDecimals"/> decimals. Such a value is written as an integer with the decimal point
/// put in; any other (many significant digits, very small or very large, negative zero) takes the
/// runtime's shortest round-trip formatting.
/// </summary>
internal static class DecimalText
{
    /// <summary>Most decimals the fast path tries: enough for a position in micro-degrees and a speed in 1/256 km/h.</summary>
    public const int MaxDecimals = 8;

    // Below 1e15 "R" writes fixed-point digits (1e15 and above switch to E notation); 1e15 < 2^50,
    // so two integers that far apart never map to the same double and the digits are unique.
    private const double FixedLimit = 1e15;

    // "R" writes E notation below 1e-5; the fast path starts above that.
    private const double SmallLimit = 1e-4;

    private static readonly double[] Powers = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
    private static readonly long[] IntegerPowers = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

    /// <summary>Writes <paramref name="value"/> (finite) to <paramref name="destination"/>; false when it does not fit.</summary>
    public static bool TryWrite(double value, Span<byte> destination, out int written)
    {
        var magnitude = Math.Abs(value);
        if (magnitude < FixedLimit && (magnitude >= SmallLimit || (value == 0 && !double.IsNegative(value))))
        {
            for (var decimals = 0; decimals <= MaxDecimals; decimals++)
            {
                var scaled = Math.Round(value * Powers[decimals]);
                if (Math.Abs(scaled) >= FixedLimit)
                    break;
                // The division of two exact doubles is correctly rounded, as parsing the text is: when it
                // gives the value back, these digits are a round trip, and the fewest decimals that do
                // are the shortest text.
                if (scaled / Powers[decimals] == value)
                    return TryWriteFixed((long)scaled, decimals, destination, out written);
            }
        }
        return value.TryFormat(destination, out written, default, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static bool TryWriteFixed(long scaled, int decimals, Span<byte> destination, out int written)
    {
        if (decimals == 0)
            return Utf8Formatter.TryFormat(scaled, destination, out written);
        written = 0;
        var at = 0;
        if (scaled < 0)
        {
            if (destination.IsEmpty)
                return false;
            destination[at++] = (byte)'-';
            scaled = -scaled;
        }
        var power = IntegerPowers[decimals];
        var whole = scaled / power;
        var fraction = scaled - whole * power;
        if (!Utf8Formatter.TryFormat(whole, destination[at..], out var wholeLength))
            return false;
        at += wholeLength;
        // The fewest decimals were chosen, so the fraction has no trailing zero: pad it on the left only.
        if (destination.Length < at + 1 + decimals)
            return false;
        destination[at++] = (byte)'.';
        for (var i = decimals - 1; i >= 0; i--)
        {
            destination[at + i] = (byte)('0' + fraction % 10);
            fraction /= 10;
        }
        written = at + decimals;
        return true;
    }
}
