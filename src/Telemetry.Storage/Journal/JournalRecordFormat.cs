using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Telemetry.Storage.Journal;

/// <summary>
/// The bytes of one record on disk (little-endian): payload length (int32), CRC-32C (uint32) over
/// everything after it, type (byte), sequence (int64), append time (int64 UTC ticks), payload.
/// </summary>
internal static class JournalRecordFormat
{
    public const int HeaderBytes = 25;

    /// <summary>Largest payload a reader accepts; a larger length field is a sign of corruption.</summary>
    public const int MaxPayloadBytes = 1024 * 1024 * 1024;

    private const int ChecksummedFrom = 8;

    public static int SizeOf(int payloadLength) => HeaderBytes + payloadLength;

    /// <summary>Writes the record into <paramref name="destination"/>, which holds at least <see cref="SizeOf"/> bytes.</summary>
    public static void Write(Span<byte> destination, JournalRecordType type, long sequence, long appendedTicks, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payload.Length);
        destination[8] = (byte)type;
        BinaryPrimitives.WriteInt64LittleEndian(destination[9..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[17..], appendedTicks);
        payload.CopyTo(destination[HeaderBytes..]);
        var crc = Crc32C.Compute(destination[ChecksummedFrom..(HeaderBytes + payload.Length)]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], crc);
    }

    /// <summary>The payload length of the header at the start of <paramref name="header"/>, or -1 when it cannot be a length.</summary>
    public static int PayloadLength(ReadOnlySpan<byte> header)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        return length is < 0 or > MaxPayloadBytes ? -1 : length;
    }

    /// <summary>Checks the checksum and type of a whole record and reads its header; false when it is corrupt.</summary>
    public static bool TryRead(ReadOnlySpan<byte> record, out JournalRecordType type, out long sequence, out long appendedTicks)
    {
        type = (JournalRecordType)record[8];
        sequence = BinaryPrimitives.ReadInt64LittleEndian(record[9..]);
        appendedTicks = BinaryPrimitives.ReadInt64LittleEndian(record[17..]);
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
        return stored == Crc32C.Compute(record[ChecksummedFrom..])
            && type is JournalRecordType.Frame or JournalRecordType.Points or JournalRecordType.PointsWithDetail
            && appendedTicks is >= 0 and <= 3155378975999999999;
    }
}

/// <summary>CRC-32C (Castagnoli), the checksum of iSCSI, ext4 and most logs; hardware-accelerated where the CPU has it.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
            crc = BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        foreach (var b in data[(words.Length * sizeof(ulong))..])
            crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }
}

/// <summary>Makes the creation, rename and deletion of files in a directory durable (fsync of the directory on Unix).</summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0;

    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
            return; // NTFS journals metadata; there is no directory handle to flush.
        var fd = Open(directory, ReadOnly);
        if (fd < 0)
            return;
        try
        {
            if (Fsync(fd) != 0)
                throw new IOException($"fsync of the directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Close(int fd);
}
