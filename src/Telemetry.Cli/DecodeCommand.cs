using System.Text.Json;
using Telemetry.Protocol;

namespace Telemetry.Cli;

/// <summary>The <c>decode</c> command: frames in, JSON Lines out, one object per input frame.</summary>
internal static class DecodeCommand
{
    public static int RunHex(string path, TerminalProfile profile, Stream stdin, TextWriter stdout, TextWriter stderr)
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
                if (!DecodeOne(frame, profile, stdout))
                    rejected++;
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

    public static int RunBinary(string path, TerminalProfile profile, Stream stdin, TextWriter stdout, TextWriter stderr)
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

        var rejected = 0;
        var position = 0;
        while (position < bytes.Length)
        {
            var rest = bytes.AsSpan(position);
            if (!StartsFrame(rest, profile))
            {
                // Bytes that do not start a frame: report them once and resume at the next start marker.
                var skip = 1;
                while (skip < rest.Length && !StartsFrame(rest[skip..], profile))
                    skip++;
                CliApp.WriteRejection(stdout, Rejection.ReasonCode(RejectReason.BadStart), $"{skip} bytes at offset {position} do not start a frame.");
                rejected++;
                position += skip;
                continue;
            }
            var length = FrameCodec.PeekFrameLength(rest);
            var take = length < 0 || length > rest.Length ? rest.Length : length;
            if (!DecodeOne(rest[..take], profile, stdout))
                rejected++;
            position += take;
        }
        return rejected == 0 ? CliApp.Success : CliApp.SomeRejected;
    }

    private static bool StartsFrame(ReadOnlySpan<byte> bytes, TerminalProfile profile) =>
        bytes.Length >= 2 && ((bytes[0] == 0x23 && bytes[1] == 0x23) || (profile.AcceptTildeStart && bytes[0] == 0x7E && bytes[1] == 0x7E));

    private static bool DecodeOne(ReadOnlySpan<byte> frame, TerminalProfile profile, TextWriter stdout)
    {
        if (!FrameCodec.TryDecodeBatch(frame, profile, null, DateTime.UtcNow, out var batch, out var rejection))
        {
            CliApp.WriteRejection(stdout, rejection.Code, rejection.Message);
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
