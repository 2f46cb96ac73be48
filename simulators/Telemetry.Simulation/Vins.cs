namespace Telemetry.Simulation;

/// <summary>Valid, unique 17-character VINs for simulated vehicles.</summary>
public static class Vins
{
    private const string Alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

    /// <summary>
    /// A VIN made of <paramref name="prefix"/> (uppercased, letters I, O and Q replaced) padded with
    /// zeros and the base-33 digits of <paramref name="index"/>: unique per index, only
    /// <c>[A-HJ-NPR-Z0-9]</c>.
    /// </summary>
    public static string Make(int index, string prefix = "LSIM")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentNullException.ThrowIfNull(prefix);
        var p = new string([.. prefix.ToUpperInvariant().Select(c => c switch
        {
            'I' => '1',
            'O' => '0',
            'Q' => '0',
            _ when Alphabet.Contains(c, StringComparison.Ordinal) => c,
            _ => 'X',
        })]);
        if (p.Length > 9)
            p = p[..9];
        Span<char> digits = stackalloc char[17];
        var n = 0;
        var v = (long)index;
        do
        {
            digits[n++] = Alphabet[(int)(v % Alphabet.Length)];
            v /= Alphabet.Length;
        }
        while (v > 0);
        var width = 17 - p.Length;
        var body = new char[width];
        Array.Fill(body, '0');
        for (var i = 0; i < n && i < width; i++)
            body[width - 1 - i] = digits[i];
        return p + new string(body);
    }
}
