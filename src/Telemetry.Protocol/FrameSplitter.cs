using System.Buffers.Binary;

namespace Telemetry.Protocol;

/// <summary>
/// Splits a payload that holds several concatenated frames (a gateway forwarding socket reads, or
/// firmware writing ten one-record frames in one write) by their length fields. Never by searching
/// for <c>##</c>: data units may contain those bytes. Only after bytes that cannot be a frame (a bad
/// start, a length field beyond the payload or above the maximum) does it look for the next
/// plausible frame start: the start pair, a known command (0x01-0x06) and a well-formed VIN.
/// </summary>
public static class FrameSplitter
{
    /// <summary>
    /// The length of the piece at the start of <paramref name="rest"/>: a whole frame by its length
    /// field, or the bytes up to the next plausible frame start (or the end) when the piece cannot be
    /// a whole frame; the decoder then rejects that piece with its reason. At least 1 for a non-empty span.
    /// </summary>
    public static int NextPieceLength(ReadOnlySpan<byte> rest, bool acceptTildeStart)
    {
        if (rest.IsEmpty)
            return 0;
        if (rest.Length >= 2 && IsStart(rest, acceptTildeStart))
        {
            if (rest.Length < FrameCodec.HeaderLength)
                return rest.Length;
            int length = BinaryPrimitives.ReadUInt16BigEndian(rest[22..]);
            if (length <= FrameCodec.MaxDataLength && length + FrameCodec.Overhead <= rest.Length)
                return length + FrameCodec.Overhead;
        }
        // Not a whole frame here: this piece ends where the next plausible frame starts.
        for (var i = 1; i + FrameCodec.HeaderLength <= rest.Length; i++)
        {
            if (IsPlausibleFrameStart(rest[i..], acceptTildeStart))
                return i;
        }
        return rest.Length;
    }

    /// <summary>Offsets and lengths of the pieces of <paramref name="payload"/>, in order; they cover it exactly.</summary>
    public static List<(int Offset, int Length)> Split(ReadOnlySpan<byte> payload, bool acceptTildeStart)
    {
        var pieces = new List<(int, int)>();
        var offset = 0;
        while (offset < payload.Length)
        {
            var length = NextPieceLength(payload[offset..], acceptTildeStart);
            pieces.Add((offset, length));
            offset += length;
        }
        return pieces;
    }

    private static bool IsStart(ReadOnlySpan<byte> bytes, bool acceptTildeStart) =>
        bytes[0] == bytes[1] && (bytes[0] == 0x23 || (acceptTildeStart && bytes[0] == 0x7E));

    private static bool IsPlausibleFrameStart(ReadOnlySpan<byte> bytes, bool acceptTildeStart) =>
        IsStart(bytes, acceptTildeStart)
        && bytes[2] is >= 0x01 and <= 0x06
        && Wire.IsValidVin(bytes.Slice(3, 17))
        && BinaryPrimitives.ReadUInt16BigEndian(bytes[22..]) <= FrameCodec.MaxDataLength;
}
