using System.Globalization;
using System.Text;

namespace Telemetry.Protocol.Tests;

/// <summary>
/// Builds frames byte by byte from hex text, independently of the codec's encoder, so decoder
/// tests check the decoder against the specification rather than against itself.
/// </summary>
internal static class HandFrames
{
    public const string Vin = "LGDCHA1G8MA127733";

    /// <summary>A real-time frame (command 0x02) captured from a field terminal, as hex.</summary>
    public const string DomainCapture =
        "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C47444348" +
        "413147384D4131323737333359435933303136352D363020202020200000EC40A1BF00000000000000000000" +
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000007145600" +
        "AFE00200AFE06200AFE00900AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000" +
        "FEFFFEFFFEFF3D000006AFD31701EA55FE000000289F";

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>start + command + VIN + version + encryption + length + data + BCC, computed here.</summary>
    public static byte[] Frame(byte command, string dataHex, string vin = Vin, byte version = 0x01, byte encryption = 0x01, string start = "2323")
    {
        var data = Hex(dataHex);
        var bytes = new List<byte>();
        bytes.AddRange(Hex(start));
        bytes.Add(command);
        bytes.AddRange(Encoding.ASCII.GetBytes(vin));
        bytes.Add(version);
        bytes.Add(encryption);
        bytes.Add((byte)(data.Length >> 8));
        bytes.Add((byte)data.Length);
        bytes.AddRange(data);
        byte bcc = 0;
        for (var i = 2; i < bytes.Count; i++)
            bcc ^= bytes[i];
        bytes.Add(bcc);
        return [.. bytes];
    }

    /// <summary>A 37-byte diesel body with every field "not available" except those overridden by offset.</summary>
    public static string DieselBody(params (int Offset, string Hex)[] fields)
    {
        var body = Hex("FFFF FF FF FF FFFF FFFF FFFF FFFF FF FFFF FFFF FFFF FFFF FF FF 01 FFFFFFFF FFFFFFFF FFFFFFFF");
        foreach (var (offset, hex) in fields)
            Hex(hex).CopyTo(body, offset);
        return Convert.ToHexString(body);
    }

    /// <summary>6 binary time bytes (year - 2000, month, day, hour, minute, second).</summary>
    public static string Time(int year, int month, int day, int hour, int minute, int second) =>
        string.Create(CultureInfo.InvariantCulture, $"{year - 2000:X2}{month:X2}{day:X2}{hour:X2}{minute:X2}{second:X2}");

    /// <summary>A GB 17691 real-time frame at 2021-08-14 08:47:35 CST with one diesel record of the given body.</summary>
    public static byte[] GbDieselFrame(string body, ushort serial = 1) =>
        Frame(0x02, Time(2021, 8, 14, 8, 47, 35) + "02" + serial.ToString("X4", CultureInfo.InvariantCulture) + body);

    public static readonly DateTime CaptureTimeUtc = new(2021, 8, 14, 0, 47, 35, DateTimeKind.Utc);
}
