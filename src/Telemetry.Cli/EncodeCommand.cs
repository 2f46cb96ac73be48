using Telemetry.Protocol;

namespace Telemetry.Cli;

/// <summary>The <c>encode</c> command: JSON Lines in, one hex frame per line (or raw frames to a file) out.</summary>
internal static class EncodeCommand
{
    private const int MaxSamplesPerLine = 100_000;

    public static int Run(string jsonPath, string? binOut, byte softwareVersion, TerminalProfile profile, string? privateKeyHex, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var rejected = 0;
        try
        {
            using var reader = new StreamReader(CliApp.OpenInput(jsonPath, stdin), CliApp.Utf8, leaveOpen: jsonPath == "-");
            using var output = binOut is null ? null : File.Create(binOut);
            string? line;
            var lineNumber = 0;
            while ((line = reader.ReadLine()) is not null)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line))
                    continue;
                if (!JsonFrameFormat.TryDecode(CliApp.Utf8.GetBytes(line), DateTime.UtcNow, MaxSamplesPerLine, out var batch, out var rejection))
                {
                    CliApp.WriteRejection(stderr, rejection.Code, rejection.Message, lineNumber);
                    rejected++;
                    continue;
                }
                byte[] frame;
                try
                {
                    frame = FrameEncoder.Encode(batch, profile, softwareVersion, profile.IsSigned ? privateKeyHex : null);
                }
                catch (ArgumentException ex)
                {
                    CliApp.WriteRejection(stderr, "cannotEncode", ex.Message, lineNumber);
                    rejected++;
                    continue;
                }
                if (output is null)
                    stdout.WriteLine(Convert.ToHexString(frame));
                else
                    output.Write(frame);
            }
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"Cannot read {jsonPath} or write {binOut}: {ex.Message}");
            return CliApp.UsageError;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"Cannot read {jsonPath} or write {binOut}: {ex.Message}");
            return CliApp.UsageError;
        }
        return rejected == 0 ? CliApp.Success : CliApp.SomeRejected;
    }
}
