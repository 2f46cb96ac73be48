using System.Globalization;

namespace Telemetry.Protocol;

/// <summary>Settings of the terminal protocol: extra profiles and the limits of the ingest facade.</summary>
public sealed class ProtocolOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:Protocol";

    /// <summary>The topic format segment of JSON payloads.</summary>
    public const string JsonFormat = "json";

    /// <summary>
    /// Profiles by name, in addition to the built-in <c>gb17691</c> and <c>hj1239</c>. A profile
    /// named like a built-in one replaces it (for example an <c>hj1239</c> whose terminals sign).
    /// </summary>
    public Dictionary<string, TerminalProfileOptions> Profiles { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Accept the <c>0x7E 0x7E</c> start on every profile, built-in ones included.</summary>
    public bool AcceptTildeStart { get; set; }

    /// <summary>Most samples one JSON message may carry.</summary>
    public int MaxJsonSamples { get; set; } = 600;

    /// <summary>Largest JSON payload accepted, in bytes.</summary>
    public int MaxJsonBytes { get; set; } = 1 << 20;

    /// <summary>
    /// A frame or sample time later than the receive time by more than this is rejected as
    /// <see cref="RejectReason.TimeOutOfRange"/>; null accepts any future time. Skew below this
    /// passes so that the clock-skew rule can see it.
    /// </summary>
    public TimeSpan? MaxFutureSkew { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Returns one sentence per bad setting, naming it; empty when every setting is usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxJsonSamples is < 1 or > 100_000)
            yield return $"{Section}:MaxJsonSamples must be between 1 and 100000; it is {MaxJsonSamples}.";
        if (MaxJsonBytes is < 256 or > 64 << 20)
            yield return $"{Section}:MaxJsonBytes must be between 256 and 67108864; it is {MaxJsonBytes}.";
        if (MaxFutureSkew is { } skew && skew < TimeSpan.Zero)
            yield return $"{Section}:MaxFutureSkew must not be negative; it is {skew}.";
        foreach (var (name, profile) in Profiles)
        {
            if (!IsValidName(name))
                yield return $"{Section}:Profiles:{name} has a bad name: a profile name is 1-32 characters of a-z, 0-9, '-' or '_'.";
            else if (string.Equals(name, JsonFormat, StringComparison.OrdinalIgnoreCase))
                yield return $"{Section}:Profiles:{name} uses the reserved name '{JsonFormat}'.";
            if (profile is null)
            {
                yield return $"{Section}:Profiles:{name} is empty.";
                continue;
            }
            foreach (var problem in profile.Validate($"{Section}:Profiles:{name}"))
                yield return problem;
        }
    }

    /// <summary>The profiles in force: the built-in ones, replaced or extended by <see cref="Profiles"/>.</summary>
    public IReadOnlyList<TerminalProfile> BuildProfiles()
    {
        var byName = new Dictionary<string, TerminalProfile>(StringComparer.OrdinalIgnoreCase);
        foreach (var builtIn in TerminalProfile.BuiltIn)
            byName[builtIn.Name] = builtIn;
        foreach (var (name, profile) in Profiles)
            byName[name] = profile.ToProfile(name.ToLowerInvariant());
        if (AcceptTildeStart)
        {
            foreach (var name in byName.Keys.ToList())
                byName[name] = byName[name] with { AcceptTildeStart = true };
        }
        return [.. byName.Values];
    }

    internal static bool IsValidName(string name) =>
        name.Length is >= 1 and <= 32 && name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_');
}

/// <summary>A terminal profile as written in configuration (<c>Telemetry:Protocol:Profiles:{name}</c>).</summary>
public sealed class TerminalProfileOptions
{
    /// <summary>Layout of real-time and re-issued data units: <c>Gb17691</c>, <c>Hj1239</c> or <c>SignedRecords</c>.</summary>
    public DataLayout Layout { get; set; } = DataLayout.Gb17691;

    /// <summary><c>Binary</c> or <c>Bcd</c> time bytes.</summary>
    public FrameTimeEncoding TimeEncoding { get; set; } = FrameTimeEncoding.Binary;

    /// <summary><c>ChinaStandardTime</c> or <c>Utc</c>.</summary>
    public FrameTimeZone TimeZone { get; set; } = FrameTimeZone.ChinaStandardTime;

    /// <summary>HJ 1239 layout only: a closing SM2 signature is required and kept.</summary>
    public bool RequiresSignature { get; set; }

    /// <summary>Also accept the <c>0x7E 0x7E</c> start.</summary>
    public bool AcceptTildeStart { get; set; }

    /// <summary>Encode frames with the <c>0x7E 0x7E</c> start.</summary>
    public bool WriteTildeStart { get; set; }

    /// <summary>Body length in bytes by supplementary record type; keys are <c>0x80</c>-<c>0xFE</c> in hex (with <c>0x</c>) or decimal.</summary>
    public Dictionary<string, int> SupplementaryRecordLengths { get; set; } = [];

    /// <summary>Returns one sentence per bad setting, each starting with <paramref name="path"/>.</summary>
    public IEnumerable<string> Validate(string path)
    {
        if (!Enum.IsDefined(Layout))
            yield return $"{path}:Layout must be Gb17691, Hj1239 or SignedRecords.";
        if (!Enum.IsDefined(TimeEncoding))
            yield return $"{path}:TimeEncoding must be Binary or Bcd.";
        if (!Enum.IsDefined(TimeZone))
            yield return $"{path}:TimeZone must be ChinaStandardTime or Utc.";
        if (RequiresSignature && Layout != DataLayout.Hj1239)
            yield return $"{path}:RequiresSignature is only possible with Layout Hj1239 (SignedRecords is always signed).";
        foreach (var (key, length) in SupplementaryRecordLengths)
        {
            if (!TryParseRecordType(key, out _))
                yield return $"{path}:SupplementaryRecordLengths:{key} is not a record type between 0x80 and 0xFE.";
            if (length is < 0 or > FrameCodec.MaxDataLength)
                yield return $"{path}:SupplementaryRecordLengths:{key} must be between 0 and {FrameCodec.MaxDataLength} bytes; it is {length}.";
        }
    }

    /// <summary>The immutable profile these settings describe.</summary>
    public TerminalProfile ToProfile(string name)
    {
        var lengths = new Dictionary<byte, int>();
        foreach (var (key, length) in SupplementaryRecordLengths)
        {
            if (TryParseRecordType(key, out var type))
                lengths[type] = length;
        }
        return new TerminalProfile
        {
            Name = name,
            Layout = Layout,
            TimeEncoding = TimeEncoding,
            TimeZone = TimeZone,
            RequiresSignature = RequiresSignature,
            AcceptTildeStart = AcceptTildeStart,
            WriteTildeStart = WriteTildeStart,
            SupplementaryRecordLengths = System.Collections.Frozen.FrozenDictionary.ToFrozenDictionary(lengths),
        };
    }

    internal static bool TryParseRecordType(string key, out byte type)
    {
        type = 0;
        var ok = key.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? byte.TryParse(key.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out type)
            : byte.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out type);
        return ok && type is >= 0x80 and <= 0xFE;
    }
}
