using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Journal;

/// <summary>
/// The non-core fields of a vehicle's samples in a <see cref="JournalRecordType.PointsWithDetail"/> record,
/// in binary: the <c>adaptive</c> policy ships them only around alert episodes, so they are rendered as line
/// protocol only then (by the detail shipper), and the journal keeps about a third of the bytes their lines took.
/// </summary>
/// <remarks>
/// Payload of the record, little-endian: the detail length <c>d</c> (4 bytes), the detail, then the record's
/// line protocol (as a <see cref="JournalRecordType.Points"/> payload). The detail: the length of the series
/// head (2) and the head (<c>hdv,vin=...[,fleet=...][,region=...]</c>, escaped UTF-8), the number of samples
/// (2), and per sample its time in Unix seconds (8), a mask of the <see cref="AdaptiveFields.DetailIndexes"/>
/// present (2; bit <c>i</c> for the <c>i</c>-th) and the value of each present field (8, IEEE 754 double).
/// A sample with none of those fields is left out, as its detail line was.
/// </remarks>
public static class DetailBlock
{
    private const int SampleHeadBytes = 8 + 2;

    static DetailBlock()
    {
        if (AdaptiveFields.DetailIndexes.Length > 16)
            throw new InvalidOperationException("The detail mask holds 16 fields.");
    }

    /// <summary>
    /// Writes the payload of a <see cref="JournalRecordType.PointsWithDetail"/> record up to the line protocol:
    /// the detail length and the detail of <paramref name="samples"/> under <paramref name="head"/>. Returns
    /// false (and writes nothing) when no sample has a non-core field: the record is then a plain
    /// <see cref="JournalRecordType.Points"/> one.
    /// </summary>
    internal static bool Write(IBufferWriter<byte> output, ReadOnlySpan<byte> head, IReadOnlyList<Sample> samples)
    {
        if (head.Length > ushort.MaxValue || samples.Count > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(samples), "A detail block holds at most 65,535 samples under a head of at most 65,535 bytes.");
        var fields = AdaptiveFields.DetailIndexes;
        var span = output.GetSpan(4 + 2 + head.Length + 2 + samples.Count * (SampleHeadBytes + 8 * fields.Length));
        var at = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)head.Length);
        at += 2;
        head.CopyTo(span[at..]);
        at += head.Length;
        var countAt = at;
        at += 2;
        var kept = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            var sample = samples[i];
            var maskAt = at + 8;
            var valuesAt = at + SampleHeadBytes;
            var mask = 0;
            for (var f = 0; f < fields.Length; f++)
            {
                var value = SampleFields.Value(sample, fields[f]);
                if (!double.IsFinite(value))
                    continue;
                mask |= 1 << f;
                BinaryPrimitives.WriteDoubleLittleEndian(span[valuesAt..], value);
                valuesAt += 8;
            }

            if (mask == 0)
                continue; // no detail field: as before, no detail line
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], LineProtocol.ToUnixSeconds(sample.TimeUtc));
            BinaryPrimitives.WriteUInt16LittleEndian(span[maskAt..], (ushort)mask);
            at = valuesAt;
            kept++;
        }

        if (kept == 0)
            return false;
        BinaryPrimitives.WriteUInt16LittleEndian(span[countAt..], (ushort)kept);
        BinaryPrimitives.WriteInt32LittleEndian(span, at - 4);
        output.Advance(at);
        return true;
    }

    /// <summary>Splits a <see cref="JournalRecordType.PointsWithDetail"/> payload; false when it is malformed.</summary>
    public static bool TrySplit(ReadOnlySpan<byte> payload, out int detailLength)
    {
        detailLength = 0;
        if (payload.Length < 4)
            return false;
        detailLength = BinaryPrimitives.ReadInt32LittleEndian(payload);
        return detailLength >= 4 && detailLength <= payload.Length - 4;
    }

    /// <summary>The line protocol of a record's payload: all of a <see cref="JournalRecordType.Points"/> one, the part after the detail of a <see cref="JournalRecordType.PointsWithDetail"/> one (empty when malformed).</summary>
    public static ReadOnlyMemory<byte> Text(JournalRecordType type, ReadOnlyMemory<byte> payload)
    {
        if (type != JournalRecordType.PointsWithDetail)
            return payload;
        return TrySplit(payload.Span, out var detail) ? payload[(4 + detail)..] : ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>Reads the detail of a <see cref="JournalRecordType.PointsWithDetail"/> payload.</summary>
    public static Reader Read(ReadOnlySpan<byte> payload) => new(payload);

    /// <summary>
    /// Walks the samples of a detail block. <see cref="Valid"/> is false when the block is malformed (a record
    /// that passed its checksum was written so; it is skipped as a whole).
    /// </summary>
    public ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _detail;
        private int _at;
        private int _left;

        internal Reader(ReadOnlySpan<byte> payload)
        {
            Head = default;
            Valid = false;
            _detail = default;
            _at = 0;
            _left = 0;
            if (!TrySplit(payload, out var length))
                return;
            _detail = payload.Slice(4, length);
            var headLength = BinaryPrimitives.ReadUInt16LittleEndian(_detail);
            if (2 + headLength + 2 > _detail.Length)
                return;
            Head = _detail.Slice(2, headLength);
            _left = BinaryPrimitives.ReadUInt16LittleEndian(_detail[(2 + headLength)..]);
            _at = 2 + headLength + 2;
            Valid = true;
        }

        /// <summary>The series head: <c>hdv,vin=...[,fleet=...][,region=...]</c>.</summary>
        public ReadOnlySpan<byte> Head { get; }

        /// <summary>False when the block is malformed.</summary>
        public bool Valid { get; private set; }

        /// <summary>The VIN of the series head.</summary>
        public readonly ReadOnlySpan<byte> Vin
        {
            get
            {
                var at = Head.IndexOf("vin="u8);
                if (at < 0)
                    return default;
                var vin = Head[(at + 4)..];
                var end = vin.IndexOfAny((byte)',', (byte)' ');
                return end < 0 ? vin : vin[..end];
            }
        }

        /// <summary>Moves to the next sample: its time, field mask and values (8 bytes each).</summary>
        public bool Next(out long seconds, out ushort mask, out ReadOnlySpan<byte> values)
        {
            seconds = 0;
            mask = 0;
            values = default;
            if (!Valid || _left == 0)
                return false;
            if (_at + SampleHeadBytes > _detail.Length)
            {
                Valid = false;
                return false;
            }

            seconds = BinaryPrimitives.ReadInt64LittleEndian(_detail[_at..]);
            mask = BinaryPrimitives.ReadUInt16LittleEndian(_detail[(_at + 8)..]);
            var bytes = 8 * BitOperations.PopCount(mask);
            if (_at + SampleHeadBytes + bytes > _detail.Length)
            {
                Valid = false;
                return false;
            }

            values = _detail.Slice(_at + SampleHeadBytes, bytes);
            _at += SampleHeadBytes + bytes;
            _left--;
            return true;
        }
    }
}
