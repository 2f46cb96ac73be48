using System.Buffers.Text;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// Renders one sample's line straight into UTF-8 bytes: the series head, the finite fields of
/// <see cref="SampleFields.All"/> with their keys prepared once, the position flags and the time in
/// seconds. The output is byte for byte the text of <see cref="LineBuilder"/> (shortest round-trip
/// numbers, invariant culture), which <c>SamplePointsTests</c> checks.
/// </summary>
internal static class Utf8SampleLine
{
    // " name=" and ",name=" per field, escaped like LineBuilder does.
    private static readonly byte[][] FirstKeys = [.. SampleFields.All.Select(f => Key(' ', f.Name))];
    private static readonly byte[][] NextKeys = [.. SampleFields.All.Select(f => Key(',', f.Name))];
    private static readonly int FieldCount = SampleFields.All.Count;
    private static readonly byte[] PositionValidFirst = Key(' ', SamplePoints.PositionValidField);
    private static readonly byte[] PositionValidNext = Key(',', SamplePoints.PositionValidField);
    private static readonly byte[] PositionStatusKey = Key(',', SamplePoints.PositionStatusField);
    private static readonly byte[] SignatureKey = Key(',', SamplePoints.SignatureField);

    /// <summary>Upper bound of the bytes after the head: every key plus the longest number (24 bytes) per field.</summary>
    public static readonly int MaxFieldBytes =
        NextKeys.Sum(k => k.Length + 24) + PositionValidNext.Length + "false".Length + PositionStatusKey.Length + 4
        + SignatureKey.Length + 12 + 1 + 21;

    /// <summary>
    /// Writes the line of <paramref name="sample"/> after <paramref name="head"/> into <paramref name="destination"/>
    /// (which holds at least <c>head.Length + MaxFieldBytes</c> bytes); returns the bytes written.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> head, in Sample sample) =>
        Write(destination, head, sample, null, withPosition: true);

    /// <summary>
    /// Like <see cref="Write(Span{byte}, ReadOnlySpan{byte}, in Sample)"/>, only the fields whose entry in
    /// <paramref name="include"/> is true (all when null), and the position flags when <paramref name="withPosition"/>.
    /// Returns 0 (and writes nothing that counts) when no field is left.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> head, in Sample sample, bool[]? include, bool withPosition)
    {
        head.CopyTo(destination);
        var at = head.Length;
        var fields = 0;
        for (var i = 0; i < FieldCount; i++)
        {
            if (include is not null && !include[i])
                continue;
            var value = SampleFields.Value(sample, i);
            if (!double.IsFinite(value))
                continue;
            var key = fields++ == 0 ? FirstKeys[i] : NextKeys[i];
            key.CopyTo(destination[at..]);
            at += key.Length;
            if (!DecimalText.TryWrite(value, destination[at..], out var number))
                throw new InvalidOperationException("A number did not fit its reserved space.");
            at += number;
        }

        if (!withPosition)
            return fields == 0 ? 0 : End(destination, at, sample);
        var valid = fields == 0 ? PositionValidFirst : PositionValidNext;
        valid.CopyTo(destination[at..]);
        at += valid.Length;
        var flag = sample.PositionValid ? "true"u8 : "false"u8;
        flag.CopyTo(destination[at..]);
        at += flag.Length;
        PositionStatusKey.CopyTo(destination[at..]);
        at += PositionStatusKey.Length;
        Utf8Formatter.TryFormat(sample.PositionStatus, destination[at..], out var status);
        at += status;
        destination[at++] = (byte)'i';
        if (sample.Signature != SignatureCheck.NotSigned)
        {
            SignatureKey.CopyTo(destination[at..]);
            at += SignatureKey.Length;
            Utf8Formatter.TryFormat((long)sample.Signature, destination[at..], out var signature);
            at += signature;
            destination[at++] = (byte)'i';
        }

        return End(destination, at, sample);
    }

    /// <summary>
    /// Writes a line of the non-core fields read back from a <see cref="Journal.DetailBlock"/>: <paramref name="head"/>,
    /// the fields of <see cref="AdaptiveFields.DetailIndexes"/> set in <paramref name="mask"/> with their
    /// <paramref name="values"/> in that order, and the time. The text of <see cref="Write(Span{byte}, ReadOnlySpan{byte}, in Sample, bool[], bool)"/>
    /// with <see cref="AdaptiveFields.IsDetail"/> and no position flags. Returns 0 when no field is set.
    /// </summary>
    public static int WriteDetail(Span<byte> destination, ReadOnlySpan<byte> head, ushort mask, ReadOnlySpan<byte> values, long unixSeconds)
    {
        head.CopyTo(destination);
        var at = head.Length;
        var fields = 0;
        var indexes = AdaptiveFields.DetailIndexes;
        for (var f = 0; f < indexes.Length; f++)
        {
            if ((mask & (1 << f)) == 0)
                continue;
            var value = System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(values[(8 * fields)..]);
            var key = fields++ == 0 ? FirstKeys[indexes[f]] : NextKeys[indexes[f]];
            key.CopyTo(destination[at..]);
            at += key.Length;
            if (!DecimalText.TryWrite(value, destination[at..], out var number))
                throw new InvalidOperationException("A number did not fit its reserved space.");
            at += number;
        }

        if (fields == 0)
            return 0;
        destination[at++] = (byte)' ';
        Utf8Formatter.TryFormat(unixSeconds, destination[at..], out var time);
        return at + time;
    }

    private static int End(Span<byte> destination, int at, in Sample sample)
    {
        destination[at++] = (byte)' ';
        Utf8Formatter.TryFormat(LineProtocol.ToUnixSeconds(sample.TimeUtc), destination[at..], out var time);
        return at + time;
    }

    private static byte[] Key(char separator, string name)
    {
        var builder = new StringBuilder().Append(separator);
        LineProtocol.AppendEscaped(builder, name, escapeEquals: true);
        return Encoding.UTF8.GetBytes(builder.Append('=').ToString());
    }
}
