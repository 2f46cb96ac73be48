using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Telemetry.Protocol;

/// <summary>Byte-level pieces shared by the decoder and the encoders: times, text, VIN, check code.</summary>
internal static class Wire
{
    public const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private const long ChinaOffsetTicks = 8 * TimeSpan.TicksPerHour;
    private static readonly int[] DaysBeforeMonth = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

    /// <summary>True when the 17 ASCII bytes of <paramref name="vin"/> form a VIN (<see cref="Telemetry.Abstractions.Vin"/>).</summary>
    public static bool IsValidVin(ReadOnlySpan<byte> vin)
    {
        if (vin.Length != Telemetry.Abstractions.Vin.Length)
            return false;
        foreach (var b in vin)
        {
            if (!Telemetry.Abstractions.Vin.IsValidChar((char)b))
                return false;
        }
        return true;
    }

    /// <summary>True when <paramref name="vin"/> is a VIN (<see cref="Telemetry.Abstractions.Vin"/>).</summary>
    public static bool IsValidVin(string? vin) => vin is not null && Telemetry.Abstractions.Vin.IsValid(vin);

    /// <summary>Ordinal comparison of ASCII bytes with a string, without allocating.</summary>
    public static bool AsciiEquals(ReadOnlySpan<byte> bytes, string? text) =>
        text is not null && Ascii.Equals(bytes, text);

    /// <summary>XOR of every byte (the BCC check code).</summary>
    public static byte Xor(ReadOnlySpan<byte> bytes)
    {
        ulong acc = 0;
        var i = 0;
        if (Vector.IsHardwareAccelerated && bytes.Length >= Vector<byte>.Count * 2)
        {
            var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(bytes);
            var v = Vector<byte>.Zero;
            foreach (var item in vectors)
                v ^= item;
            var words = Vector.AsVectorUInt64(v);
            for (var k = 0; k < Vector<ulong>.Count; k++)
                acc ^= words[k];
            i = vectors.Length * Vector<byte>.Count;
        }
        var rest = MemoryMarshal.Cast<byte, ulong>(bytes[i..]);
        foreach (var w in rest)
            acc ^= w;
        i += rest.Length * 8;
        acc ^= acc >> 32;
        acc ^= acc >> 16;
        acc ^= acc >> 8;
        var result = (byte)acc;
        for (; i < bytes.Length; i++)
            result ^= bytes[i];
        return result;
    }

    /// <summary>Reads a 6-byte frame time in the profile's encoding and clock, as UTC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadTime(ReadOnlySpan<byte> b, TerminalProfile profile, out DateTime utc)
    {
        _ = b[5];
        int year, month, day, hour, minute, second;
        if (profile.TimeEncoding == FrameTimeEncoding.Binary)
        {
            year = b[0];
            month = b[1];
            day = b[2];
            hour = b[3];
            minute = b[4];
            second = b[5];
        }
        else
        {
            year = Bcd(b[0]);
            month = Bcd(b[1]);
            day = Bcd(b[2]);
            hour = Bcd(b[3]);
            minute = Bcd(b[4]);
            second = Bcd(b[5]);
        }
        // A BCD nibble above 9 reads as 999, which every check below rejects.
        if (year > 255)
        {
            utc = default;
            return false;
        }
        year += 2000;
        if ((uint)(month - 1) > 11 || day < 1 || (uint)hour > 23 || (uint)minute > 59 || (uint)second > 59)
        {
            utc = default;
            return false;
        }
        var leap = (year & 3) == 0 && (year % 100 != 0 || year % 400 == 0);
        var monthDays = DaysBeforeMonth[month] - DaysBeforeMonth[month - 1] + (leap && month == 2 ? 1 : 0);
        if (day > monthDays)
        {
            utc = default;
            return false;
        }
        var y = year - 1;
        long days = (y * 365) + (y / 4) - (y / 100) + (y / 400) + DaysBeforeMonth[month - 1] + (leap && month > 2 ? 1 : 0) + day - 1;
        var ticks = (days * TimeSpan.TicksPerDay) + ((((hour * 60) + minute) * 60) + second) * TicksPerSecond;
        if (profile.TimeZone == FrameTimeZone.ChinaStandardTime)
            ticks -= ChinaOffsetTicks;
        utc = new DateTime(ticks, DateTimeKind.Utc);
        return true;
    }

    /// <summary>
    /// Reads record times that share the frame's calendar day without redoing the calendar
    /// arithmetic: HJ 1239 frames carry ten record times, normally all on the frame's day.
    /// </summary>
    internal readonly struct DayClock
    {
        private readonly int _dateKey;
        private readonly long _dayStartTicks;
        private readonly TerminalProfile _profile;

        public DayClock(ReadOnlySpan<byte> frameTime, TerminalProfile profile)
        {
            _profile = profile;
            _dateKey = -1;
            Span<byte> midnight = [frameTime[0], frameTime[1], frameTime[2], 0, 0, 0];
            if (TryReadTime(midnight, profile, out var start))
            {
                _dateKey = (frameTime[0] << 16) | (frameTime[1] << 8) | frameTime[2];
                _dayStartTicks = start.Ticks;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool TryRead(ReadOnlySpan<byte> b, out DateTime utc)
        {
            _ = b[5];
            if (((b[0] << 16) | (b[1] << 8) | b[2]) == _dateKey)
            {
                int hour, minute, second;
                if (_profile.TimeEncoding == FrameTimeEncoding.Binary)
                {
                    hour = b[3];
                    minute = b[4];
                    second = b[5];
                }
                else
                {
                    hour = Bcd(b[3]);
                    minute = Bcd(b[4]);
                    second = Bcd(b[5]);
                }
                if ((uint)hour <= 23 && (uint)minute <= 59 && (uint)second <= 59)
                {
                    utc = new DateTime(_dayStartTicks + ((((hour * 60) + minute) * 60) + second) * TicksPerSecond, DateTimeKind.Utc);
                    return true;
                }
            }
            return TryReadTime(b, _profile, out utc);
        }
    }

    // A nibble above 9 yields a value above every limit, so the range check rejects it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bcd(byte b) => (b >> 4) > 9 || (b & 0x0F) > 9 ? 999 : ((b >> 4) * 10) + (b & 0x0F);

    /// <summary>True when <paramref name="utc"/> can be written in the profile's time bytes.</summary>
    public static bool CanWriteTime(DateTime utc, TerminalProfile profile)
    {
        var local = profile.TimeZone == FrameTimeZone.ChinaStandardTime ? utc.Ticks + ChinaOffsetTicks : utc.Ticks;
        if (local < 0 || local > DateTime.MaxValue.Ticks)
            return false;
        var year = new DateTime(local, DateTimeKind.Unspecified).Year - 2000;
        return year >= 0 && year <= (profile.TimeEncoding == FrameTimeEncoding.Bcd ? 99 : 255);
    }

    /// <summary>Writes <paramref name="utc"/> (whole seconds) as 6 time bytes; throws when the profile cannot carry it.</summary>
    public static void WriteTime(Span<byte> b, DateTime utc, TerminalProfile profile, string what)
    {
        if (!CanWriteTime(utc, profile))
            throw new ArgumentOutOfRangeException(nameof(utc), utc, $"{what} {utc:O} cannot be written in profile {profile.Name}: the year must be 2000-{(profile.TimeEncoding == FrameTimeEncoding.Bcd ? 2099 : 2255)} in the profile's clock.");
        var local = new DateTime(profile.TimeZone == FrameTimeZone.ChinaStandardTime ? utc.Ticks + ChinaOffsetTicks : utc.Ticks, DateTimeKind.Unspecified);
        Span<int> parts = [local.Year - 2000, local.Month, local.Day, local.Hour, local.Minute, local.Second];
        for (var i = 0; i < 6; i++)
            b[i] = profile.TimeEncoding == FrameTimeEncoding.Bcd ? (byte)(((parts[i] / 10) << 4) | (parts[i] % 10)) : (byte)parts[i];
    }

    /// <summary>The time truncated to whole seconds, as UTC.</summary>
    public static DateTime TruncateToSecond(DateTime utc) =>
        new(utc.Ticks - (utc.Ticks % TicksPerSecond), DateTimeKind.Utc);

    /// <summary>
    /// Reads a fixed-size text field. Trailing NUL and space padding is dropped. Printable ASCII
    /// becomes the text itself; anything else (binary CVNs are common) becomes <c>0x</c> followed
    /// by upper-case hex of the bytes up to the trailing NUL padding.
    /// </summary>
    public static string ReadText(ReadOnlySpan<byte> field)
    {
        var end = field.Length;
        while (end > 0 && field[end - 1] is 0x00 or 0x20)
            end--;
        var text = field[..end];
        var printable = true;
        foreach (var b in text)
        {
            if (b is < 0x20 or > 0x7E)
            {
                printable = false;
                break;
            }
        }
        if (printable && !(text.Length >= 2 && text[0] == (byte)'0' && text[1] == (byte)'x'))
            return Encoding.ASCII.GetString(text);
        end = field.Length;
        while (end > 0 && field[end - 1] == 0x00)
            end--;
        return "0x" + Convert.ToHexString(field[..end]);
    }

    /// <summary>
    /// <see cref="ReadText"/> for OBD text fields that terminals fill with a placeholder when the
    /// engine control unit does not report them: all 0xFF, all '0', all '1', or blank (spaces/NUL)
    /// read as empty, meaning not available.
    /// </summary>
    public static string ReadOptionalText(ReadOnlySpan<byte> field)
    {
        if (IsPlaceholder(field))
            return "";
        return ReadText(field);
    }

    /// <summary>True when every byte is 0xFF, or every byte is '0', or every byte is '1', or every byte is a space or NUL.</summary>
    public static bool IsPlaceholder(ReadOnlySpan<byte> field)
    {
        if (field.IsEmpty)
            return true;
        var first = field[0];
        if (first is 0x00 or 0x20)
            return !field.ContainsAnyExcept((byte)0x00, (byte)0x20);
        if (first is 0xFF or (byte)'0' or (byte)'1')
            return !field.ContainsAnyExcept(first);
        return false;
    }

    /// <summary>Writes a text field in the form <see cref="ReadText"/> reads, padded with NUL; throws when it cannot fit.</summary>
    public static void WriteText(Span<byte> field, string? text, string name)
    {
        field.Clear();
        if (string.IsNullOrEmpty(text))
            return;
        if (text.Length >= 2 && text[0] == '0' && text[1] == 'x')
        {
            var hex = text.AsSpan(2);
            if (hex.Length % 2 != 0 || hex.Length / 2 > field.Length || Convert.FromHexString(hex, field, out _, out _) != System.Buffers.OperationStatus.Done)
                throw new ArgumentException($"{name} '{text}' is not hex of at most {field.Length} bytes after its 0x prefix.", nameof(text));
            return;
        }
        if (text.Length > field.Length)
            throw new ArgumentException($"{name} '{text}' is longer than {field.Length} characters.", nameof(text));
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is < ' ' or > '~')
                throw new ArgumentException($"{name} '{text}' holds a character that is not printable ASCII.", nameof(text));
            field[i] = (byte)text[i];
        }
    }
}
