using System.Collections.Frozen;

namespace Telemetry.Protocol;

/// <summary>How a real-time (0x02) or re-issued (0x03) data unit is laid out.</summary>
public enum DataLayout
{
    /// <summary>GB 17691-2018 Annex Q: time, then records of type + info serial + body.</summary>
    Gb17691 = 0,
    /// <summary>HJ 1239-2021: time + frame serial, then records of type + sample time + body, optional closing signature.</summary>
    Hj1239 = 1,
    /// <summary>
    /// Signed records (a version-0x11 terminal): time + frame serial, then records of type + body,
    /// each followed by its own SM2 signature; records carry no serial and no time.
    /// </summary>
    SignedRecords = 2,
}

/// <summary>How the 6 time bytes encode their digits.</summary>
public enum FrameTimeEncoding
{
    /// <summary>Each byte is a binary value (every captured frame).</summary>
    Binary = 0,
    /// <summary>Each byte holds two BCD digits.</summary>
    Bcd = 1,
}

/// <summary>The clock the terminal's times are read in.</summary>
public enum FrameTimeZone
{
    /// <summary>China Standard Time, UTC+8 (the default of the standards).</summary>
    ChinaStandardTime = 0,
    /// <summary>UTC.</summary>
    Utc = 1,
}

/// <summary>
/// Everything that differs between terminal families: the data-unit layout, the time encoding
/// and clock, the optional closing signature, the accepted start bytes and the lengths of
/// supplementary record types. The MQTT topic's last segment names the profile.
/// </summary>
public sealed record class TerminalProfile
{
    /// <summary>Name used as the topic's format segment, such as <c>gb17691</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Layout of real-time and re-issued data units.</summary>
    public DataLayout Layout { get; init; }

    /// <summary>Binary or BCD time bytes.</summary>
    public FrameTimeEncoding TimeEncoding { get; init; }

    /// <summary>The clock of the time bytes; decoded times are always UTC.</summary>
    public FrameTimeZone TimeZone { get; init; }

    /// <summary>
    /// HJ 1239 layout only: one SM2 signature (<c>R length + R + S length + S</c>) closes every
    /// real-time and re-issued data unit. It is parsed and kept, not verified.
    /// </summary>
    public bool RequiresSignature { get; init; }

    /// <summary>Also accept frames that start with <c>0x7E 0x7E</c> instead of <c>##</c>.</summary>
    public bool AcceptTildeStart { get; init; }

    /// <summary>The encoder writes <c>0x7E 0x7E</c> as the start instead of <c>##</c>.</summary>
    public bool WriteTildeStart { get; init; }

    /// <summary>
    /// Body lengths of supplementary / user-defined record types (0x80-0xFE). A record of a type
    /// not listed here cannot be skipped safely, so its frame is rejected.
    /// </summary>
    public IReadOnlyDictionary<byte, int> SupplementaryRecordLengths { get; init; } = FrozenDictionary<byte, int>.Empty;

    /// <summary>GB 17691-2018 Annex Q: binary CST times, records of type + serial + body, <c>##</c> start.</summary>
    public static TerminalProfile Gb17691 { get; } = new() { Name = "gb17691", Layout = DataLayout.Gb17691 };

    /// <summary>HJ 1239-2021: binary CST times, frame serial, records with their own sample time, unsigned.</summary>
    public static TerminalProfile Hj1239 { get; } = new() { Name = "hj1239", Layout = DataLayout.Hj1239 };

    /// <summary>Signed records: binary CST times, frame serial, records of type + body + own signature.</summary>
    public static TerminalProfile SignedRecords { get; } = new() { Name = "signedRecords", Layout = DataLayout.SignedRecords };

    /// <summary>The built-in profiles, by name.</summary>
    public static IReadOnlyList<TerminalProfile> BuiltIn { get; } = [Gb17691, Hj1239, SignedRecords];

    /// <summary>True when data units of this profile carry SM2 signatures (signed HJ 1239, or the signed-records layout).</summary>
    public bool IsSigned => Layout == DataLayout.SignedRecords || (Layout == DataLayout.Hj1239 && RequiresSignature);

    internal bool TryGetSupplementaryLength(byte type, out int length) =>
        SupplementaryRecordLengths.TryGetValue(type, out length);
}
