using System.Text.Json;
using Telemetry.Protocol;

namespace Telemetry.Cli;

/// <summary>
/// The <c>decode</c> command: frames in, JSON Lines out, one object per frame found. An input line
/// (or the binary file) may hold several concatenated frames; they are split by their length fields.
/// </summary>
internal static class DecodeCommand
{
    public static int RunHex(string path, TerminalProfile profile, string? key, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var rejected = 0;
        try
        {
            using var reader = new StreamReader(CliApp.OpenInput(path, stdin), CliApp.Utf8, leaveOpen: path == "-");
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                var hex = string.Concat(line.Where(c => !char.IsWhiteSpace(c)));
                if (hex.Length == 0)
                    continue;
                byte[] frame;
                try
                {
                    frame = Convert.FromHexString(hex);
                }
                catch (FormatException)
                {
                    CliApp.WriteRejection(stdout, "badHex", "The line is not an even number of hex digits.");
                    rejected++;
                    continue;
                }
                rejected += DecodeAll(frame, profile, key, stdout);
            }
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"Cannot read {path}: {ex.Message}");
            return CliApp.UsageError;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"Cannot read {path}: {ex.Message}");
            return CliApp.UsageError;
        }
        return rejected == 0 ? CliApp.Success : CliApp.SomeRejected;
    }

    public static int RunBinary(string path, TerminalProfile profile, string? key, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        byte[] bytes;
        try
        {
            using var input = CliApp.OpenInput(path, stdin);
            using var buffer = new MemoryStream();
            input.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"Cannot read {path}: {ex.Message}");
            return CliApp.UsageError;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"Cannot read {path}: {ex.Message}");
            return CliApp.UsageError;
        }

        var rejected = DecodeAll(bytes, profile, key, stdout);
        return rejected == 0 ? CliApp.Success : CliApp.SomeRejected;
    }

    /// <summary>Decodes every frame of <paramref name="bytes"/> in order; returns how many were rejected.</summary>
    private static int DecodeAll(ReadOnlySpan<byte> bytes, TerminalProfile profile, string? key, TextWriter stdout)
    {
        var rejected = 0;
        var position = 0;
        while (position < bytes.Length)
        {
            var length = FrameSplitter.NextPieceLength(bytes[position..], profile.AcceptTildeStart);
            if (!DecodeOne(bytes.Slice(position, length), profile, key, stdout, position))
                rejected++;
            position += length;
        }
        return rejected;
    }

    private static bool DecodeOne(ReadOnlySpan<byte> frame, TerminalProfile profile, string? key, TextWriter stdout, int offset)
    {
        if (!FrameCodec.TryDecodeBatch(frame, profile, null, DateTime.UtcNow, profile.IsSigned ? key : null, out var batch, out var rejection, out _))
        {
            CliApp.WriteRejection(stdout, rejection.Code, offset == 0 ? rejection.Message : $"{rejection.Message} (at byte {offset})");
            return false;
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteBoolean("ok", true);
            JsonFrameFormat.WriteProperties(json, batch);
            json.WriteEndObject();
        }
        stdout.WriteLine(CliApp.Utf8.GetString(buffer.ToArray()));
        return true;
    }
}
