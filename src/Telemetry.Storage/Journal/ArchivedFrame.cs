using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Telemetry.Storage.Journal;

/// <summary>
/// A raw MQTT message as the journal archives it (record type <c>Frame</c>): receive time, topic and
/// payload bytes, so that a replay can feed it through the pipeline again exactly as it came.
/// </summary>
/// <remarks>Layout: receive time (8 bytes, UTC ticks, big-endian), topic length (2), topic (UTF-8), payload.</remarks>
public readonly record struct ArchivedFrame(DateTime ReceivedUtc, string Topic, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Bytes of the encoded record.</summary>
    public static int EncodedLength(string topic, long payloadLength) => 10 + Encoding.UTF8.GetByteCount(topic) + (int)payloadLength;

    /// <summary>Writes the record into <paramref name="destination"/>, which must hold <see cref="EncodedLength"/> bytes.</summary>
    public static int Encode(DateTime receivedUtc, string topic, in ReadOnlySequence<byte> payload, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, receivedUtc.Ticks);
        var topicBytes = Encoding.UTF8.GetBytes(topic, destination[10..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], checked((ushort)topicBytes));
        payload.CopyTo(destination[(10 + topicBytes)..]);
        return 10 + topicBytes + (int)payload.Length;
    }

    /// <summary>Reads a record written by <see cref="Encode"/>; false when the bytes are not one.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> record, out ArchivedFrame frame)
    {
        frame = default;
        var span = record.Span;
        if (span.Length < 10)
        {
            return false;
        }
        var ticks = BinaryPrimitives.ReadInt64BigEndian(span);
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(span[8..]);
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks || span.Length < 10 + topicLength)
        {
            return false;
        }
        frame = new ArchivedFrame(new DateTime(ticks, DateTimeKind.Utc), Encoding.UTF8.GetString(span.Slice(10, topicLength)), record[(10 + topicLength)..]);
        return true;
    }
}
