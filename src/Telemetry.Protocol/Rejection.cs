namespace Telemetry.Protocol;

/// <summary>Why a payload was rejected. Every rejected payload carries exactly one reason.</summary>
public enum RejectReason
{
    /// <summary>The frame does not start with <c>##</c> (or <c>0x7E 0x7E</c> where the profile accepts it).</summary>
    BadStart = 1,
    /// <summary>Fewer bytes than the header, or than the data length field announces.</summary>
    Truncated,
    /// <summary>The data length field is above 65,531, bytes follow the frame, or the data unit does not have the size its content needs.</summary>
    BadLength,
    /// <summary>The BCC check code does not match the XOR of the frame.</summary>
    BadCheckCode,
    /// <summary>The VIN is not 17 characters of <c>[A-HJ-NPR-Z0-9]</c>.</summary>
    BadVin,
    /// <summary>The VIN in the payload differs from the VIN in the topic: a spoof.</summary>
    VinMismatch,
    /// <summary>A command this codec does not read (0x07, 0x08, user-defined 0x80-0xFE, unknown).</summary>
    UnsupportedCommand,
    /// <summary>The data unit is encrypted (RSA, SM2) or its encryption byte is abnormal, invalid or unknown.</summary>
    UnsupportedEncryption,
    /// <summary>A record type this codec does not read, or a supplementary type without a configured length.</summary>
    UnsupportedRecordType,
    /// <summary>A time that is not a calendar time (month 13, BCD nibble above 9, ...) or is too far in the future.</summary>
    TimeOutOfRange,
    /// <summary>A field holds a value its format forbids (for example more than 252 fault codes).</summary>
    BadField,
    /// <summary>The profile requires a closing signature and the data unit does not end with a well-formed one.</summary>
    BadSignature,
    /// <summary>The topic names a format that is neither a configured profile nor <c>json</c>.</summary>
    UnknownFormat,
    /// <summary>The JSON payload is not valid JSON, lacks a required field, or a field has the wrong type.</summary>
    BadJson,
    /// <summary>A JSON value is outside the range PROTOCOL.md gives for its field, or not finite.</summary>
    ValueOutOfRange,
    /// <summary>A JSON payload carries more samples, OBD snapshots or fault codes than allowed.</summary>
    TooManySamples,
    /// <summary>The decoder failed in a way it did not foresee; the payload is kept as evidence of a codec bug.</summary>
    InternalError,
}

/// <summary>A rejected payload's reason and a sentence for people that says what was wrong.</summary>
public readonly record struct Rejection(RejectReason Reason, string Message)
{
    /// <summary>The reason as the camelCase word used in metrics, dead letters and the CLI.</summary>
    public string Code => ReasonCode(Reason);

    /// <summary>The camelCase word for <paramref name="reason"/>, as used in metrics and the CLI.</summary>
    public static string ReasonCode(RejectReason reason) => reason switch
    {
        RejectReason.BadStart => "badStart",
        RejectReason.Truncated => "truncated",
        RejectReason.BadLength => "badLength",
        RejectReason.BadCheckCode => "badCheckCode",
        RejectReason.BadVin => "badVin",
        RejectReason.VinMismatch => "vinMismatch",
        RejectReason.UnsupportedCommand => "unsupportedCommand",
        RejectReason.UnsupportedEncryption => "unsupportedEncryption",
        RejectReason.UnsupportedRecordType => "unsupportedRecordType",
        RejectReason.TimeOutOfRange => "timeOutOfRange",
        RejectReason.BadField => "badField",
        RejectReason.BadSignature => "badSignature",
        RejectReason.UnknownFormat => "unknownFormat",
        RejectReason.BadJson => "badJson",
        RejectReason.ValueOutOfRange => "valueOutOfRange",
        RejectReason.TooManySamples => "tooManySamples",
        RejectReason.InternalError => "internalError",
        _ => "unknown",
    };

    /// <inheritdoc />
    public override string ToString() => $"{Code}: {Message}";
}
