using System.Buffers;
using System.Text;

namespace Telemetry.Storage.Journal;

/// <summary>
/// Line-protocol lines kept as the UTF-8 bytes they arrived in, each followed by <c>\n</c>, with the
/// offset after each line: what the shipper gathers from journal records and sends, without a
/// string per line. The buffers come from <see cref="ArrayPool{T}.Shared"/>; <see cref="Dispose"/> returns them.
/// </summary>
internal sealed class LineBlock : IDisposable
{
    private byte[] _bytes;
    private int[] _ends;

    public LineBlock(int byteCapacity = 64 * 1024, int lineCapacity = 256)
    {
        _bytes = ArrayPool<byte>.Shared.Rent(byteCapacity);
        _ends = ArrayPool<int>.Shared.Rent(lineCapacity);
    }

    /// <summary>Lines held.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes held, the <c>\n</c> after each line included.</summary>
    public int Length => Count == 0 ? 0 : _ends[Count - 1];

    /// <summary>Appends one line (without its line break); an empty line is not kept.</summary>
    public void Add(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == '\r')
            line = line[..^1];
        if (line.IsEmpty)
            return;
        var start = Length;
        Ensure(start + line.Length + 1, Count + 1);
        line.CopyTo(_bytes.AsSpan(start));
        _bytes[start + line.Length] = (byte)'\n';
        _ends[Count++] = start + line.Length + 1;
    }

    /// <summary>Appends one line made of <paramref name="prefix"/> and <paramref name="rest"/>.</summary>
    public void Add(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> rest)
    {
        var start = Length;
        var length = prefix.Length + rest.Length;
        Ensure(start + length + 1, Count + 1);
        prefix.CopyTo(_bytes.AsSpan(start));
        rest.CopyTo(_bytes.AsSpan(start + prefix.Length));
        _bytes[start + length] = (byte)'\n';
        _ends[Count++] = start + length + 1;
    }

    /// <summary>The lines <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1, joined by <c>\n</c> (no trailing one).</summary>
    public ReadOnlyMemory<byte> Slice(int first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + count, Count);
        var start = first == 0 ? 0 : _ends[first - 1];
        return _bytes.AsMemory(start, _ends[first + count - 1] - 1 - start);
    }

    /// <summary>One line as text.</summary>
    public string Line(int index) => Encoding.UTF8.GetString(Slice(index, 1).Span);

    /// <summary>Forgets the lines and keeps the buffers for the next ones.</summary>
    public void Clear() => Count = 0;

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(Interlocked.Exchange(ref _bytes, []));
        ArrayPool<int>.Shared.Return(Interlocked.Exchange(ref _ends, []));
        Count = 0;
    }

    private void Ensure(int bytes, int lines)
    {
        if (bytes > _bytes.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(bytes, _bytes.Length * 2));
            _bytes.AsSpan(0, Length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = larger;
        }

        if (lines > _ends.Length)
        {
            var larger = ArrayPool<int>.Shared.Rent(Math.Max(lines, _ends.Length * 2));
            _ends.AsSpan(0, Count).CopyTo(larger);
            ArrayPool<int>.Shared.Return(_ends);
            _ends = larger;
        }
    }
}
