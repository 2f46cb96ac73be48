namespace Telemetry.Abstractions;

/// <summary>Vehicle identification numbers: 17 characters of A-H, J-N, P, R-Z and 0-9 (no I, O, Q).</summary>
public static class Vin
{
    /// <summary>Length of a VIN.</summary>
    public const int Length = 17;

    /// <summary>True when <paramref name="value"/> is a well-formed VIN.</summary>
    public static bool IsValid(ReadOnlySpan<char> value)
    {
        if (value.Length != Length)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (!IsValidChar(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True when <paramref name="c"/> may appear in a VIN.</summary>
    public static bool IsValidChar(char c) =>
        c is (>= '0' and <= '9') or (>= 'A' and <= 'H') or (>= 'J' and <= 'N') or 'P' or (>= 'R' and <= 'Z');
}
