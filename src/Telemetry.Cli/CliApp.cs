using System.CommandLine;
using System.Text;
using System.Text.Json;
using Telemetry.Protocol;

namespace Telemetry.Cli;

/// <summary>
/// The <c>decode</c>, <c>encode</c> and <c>replay</c> commands. Exit codes: 0 when every frame or line was
/// processed, 2 when some were rejected, 1 on usage or I/O errors.
/// </summary>
public static class CliApp
{
    /// <summary>Every frame was decoded (or every line encoded).</summary>
    public const int Success = 0;
    /// <summary>Usage or I/O error.</summary>
    public const int UsageError = 1;
    /// <summary>Some frames or lines were rejected.</summary>
    public const int SomeRejected = 2;

    /// <summary>Runs the command line with the given streams (the console's in <c>Program</c>, others in tests).</summary>
    public static int Run(string[] args, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var profileOption = new Option<string>("--profile", "-p")
        {
            Description = "Terminal profile: gb17691, hj1239 or signedRecords.",
            DefaultValueFactory = _ => TerminalProfile.Gb17691.Name,
        };
        profileOption.AcceptOnlyFromAmong(TerminalProfile.Gb17691.Name, TerminalProfile.Hj1239.Name, TerminalProfile.SignedRecords.Name);
        var keyOption = new Option<string>("--key")
        {
            Description = "decode: the terminal's SM2 public key in hex (04||X||Y) to verify signatures with; encode: the SM2 private key (64 hex digits) to sign with.",
        };
        var signedOption = new Option<bool>("--signed") { Description = "hj1239 only: data units end with an SM2 signature." };
        var tildeOption = new Option<bool>("--accept-7e") { Description = "Also accept frames starting with 0x7E 0x7E (encode: write that start)." };
        var bcdOption = new Option<bool>("--bcd") { Description = "Time bytes are BCD instead of binary." };
        var utcOption = new Option<bool>("--utc") { Description = "Times are UTC instead of China Standard Time." };

        var hexOption = new Option<string>("--hex") { Description = "File with one hex frame per line; - for standard input." };
        var binOption = new Option<string>("--bin") { Description = "File with raw concatenated frames; - for standard input." };
        var decode = new Command("decode", "Decode frames and print one JSON object per frame (JSON Lines).")
        {
            profileOption, signedOption, tildeOption, bcdOption, utcOption, hexOption, binOption, keyOption,
        };
        decode.Validators.Add(result =>
        {
            var hex = result.GetResult(hexOption) is not null;
            var bin = result.GetResult(binOption) is not null;
            if (hex == bin)
                result.AddError("Give exactly one of --hex FILE or --bin FILE.");
        });
        decode.SetAction(parse =>
        {
            var profile = BuildProfile(parse.GetValue(profileOption)!, parse.GetValue(signedOption), parse.GetValue(tildeOption), parse.GetValue(bcdOption), parse.GetValue(utcOption));
            var hexPath = parse.GetValue(hexOption);
            var key = parse.GetValue(keyOption);
            return hexPath is not null
                ? DecodeCommand.RunHex(hexPath, profile, key, stdin, stdout, stderr)
                : DecodeCommand.RunBinary(parse.GetValue(binOption)!, profile, key, stdin, stdout, stderr);
        });

        var jsonOption = new Option<string>("--json")
        {
            Description = "File with one JSON object per line, in the shape decode prints; - for standard input.",
            DefaultValueFactory = _ => "-",
        };
        var outOption = new Option<string>("--bin-out") { Description = "Write raw concatenated frames to this file instead of hex lines to standard output." };
        var versionOption = new Option<byte>("--software-version")
        {
            Description = "Terminal software version byte.",
            DefaultValueFactory = _ => 0x01,
        };
        var encode = new Command("encode", "Encode JSON objects (one per line) as frames, printed as one hex frame per line.")
        {
            profileOption, signedOption, tildeOption, bcdOption, utcOption, jsonOption, outOption, versionOption, keyOption,
        };
        encode.SetAction(parse =>
        {
            var profile = BuildProfile(parse.GetValue(profileOption)!, parse.GetValue(signedOption), parse.GetValue(tildeOption), parse.GetValue(bcdOption), parse.GetValue(utcOption));
            profile = profile with { WriteTildeStart = parse.GetValue(tildeOption) };
            return EncodeCommand.Run(parse.GetValue(jsonOption)!, parse.GetValue(outOption), parse.GetValue(versionOption), profile, parse.GetValue(keyOption), stdin, stdout, stderr);
        });

        var root = new RootCommand("Reads and writes GB 17691 / HJ 1239 remote emission monitoring frames, and replays archived frames.") { decode, encode, ReplayCommand.Create(stdout, stderr), KeysCommand.Create(stdout, stderr), DevicesCommand.Create(stdin, stdout, stderr), RegistryCommand.Create(stdin, stdout, stderr) };
        var parseResult = root.Parse(args);
        return parseResult.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private static TerminalProfile BuildProfile(string name, bool signed, bool tilde, bool bcd, bool utc)
    {
        var profile = name == TerminalProfile.Hj1239.Name ? TerminalProfile.Hj1239
            : string.Equals(name, TerminalProfile.SignedRecords.Name, StringComparison.OrdinalIgnoreCase) ? TerminalProfile.SignedRecords
            : TerminalProfile.Gb17691;
        return profile with
        {
            RequiresSignature = signed && profile.Layout == DataLayout.Hj1239,
            AcceptTildeStart = tilde,
            TimeEncoding = bcd ? FrameTimeEncoding.Bcd : FrameTimeEncoding.Binary,
            TimeZone = utc ? FrameTimeZone.Utc : FrameTimeZone.ChinaStandardTime,
        };
    }

    internal static Stream OpenInput(string path, Stream stdin) =>
        path == "-" ? stdin : File.OpenRead(path);

    internal static void WriteRejection(TextWriter writer, string code, string message, int? line = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteBoolean("ok", false);
            if (line is { } n)
                json.WriteNumber("line", n);
            json.WriteString("error", code);
            json.WriteString("message", message);
            json.WriteEndObject();
        }
        writer.WriteLine(Utf8.GetString(buffer.ToArray()));
    }

    internal static readonly UTF8Encoding Utf8 = new(false);
}
