using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;
using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>
/// Vehicle reference data parsed from registry text (JSON or CSV) and swapped atomically: readers
/// never see a half-loaded registry. Pure: the host reads the file and calls <see cref="Load(string)"/>.
/// </summary>
/// <remarks>
/// JSON: an array of objects (or an object with a <c>vehicles</c> array) with <c>vin</c>, <c>fleet</c>,
/// <c>region</c>, <c>engineModel</c>, <c>referenceTorqueNm</c>, <c>emissionStage</c>, and optionally
/// <c>terminalProfile</c> (the protocol profile of the vehicle's terminal) and <c>terminalPublicKey</c>
/// (its SM2 public key in hex).
/// CSV (RFC 4180, read and written with CsvHelper): a header line naming those columns (any order,
/// case-insensitive), then one vehicle per line; lines starting with <c>#</c> are comments.
/// </remarks>
public sealed class VehicleRegistry : IVehicleRegistry
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private volatile FrozenDictionary<string, VehicleInfo> _vehicles = FrozenDictionary<string, VehicleInfo>.Empty;

    /// <summary>Number of registered vehicles.</summary>
    public int Count => _vehicles.Count;

    /// <summary>Increases with every successful load.</summary>
    public int Generation { get; private set; }

    /// <inheritdoc />
    public VehicleInfo? Find(string vin) => vin is not null && _vehicles.TryGetValue(vin, out var v) ? v : null;

    /// <summary>Every registered vehicle.</summary>
    public IReadOnlyCollection<VehicleInfo> All => _vehicles.Values;

    /// <summary>
    /// Parses <paramref name="text"/> (JSON when it starts with <c>[</c> or <c>{</c>, CSV otherwise) and
    /// replaces the registry in one step. On a parse error the previous registry stays and
    /// <see cref="FormatException"/> names the bad line or element.
    /// </summary>
    public void Load(string text) => Load(Parse(text));

    /// <summary>Replaces the registry with <paramref name="vehicles"/> in one step (later duplicates of a VIN win).</summary>
    public void Load(IEnumerable<VehicleInfo> vehicles)
    {
        ArgumentNullException.ThrowIfNull(vehicles);
        var byVin = new Dictionary<string, VehicleInfo>(StringComparer.Ordinal);
        foreach (var v in vehicles)
            byVin[v.Vin] = v;
        _vehicles = byVin.ToFrozenDictionary(StringComparer.Ordinal);
        Generation++;
    }

    /// <summary>Parses registry text into vehicle records (later duplicates of a VIN win).</summary>
    public static IReadOnlyList<VehicleInfo> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.AsSpan().TrimStart();
        var list = trimmed.Length > 0 && (trimmed[0] == '[' || trimmed[0] == '{') ? ParseJson(text) : ParseCsv(text);
        var byVin = new Dictionary<string, VehicleInfo>(StringComparer.Ordinal);
        foreach (var v in list)
            byVin[v.Vin] = v;
        return [.. byVin.Values];
    }

    private static List<VehicleInfo> ParseJson(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Vehicle registry JSON is invalid: {ex.Message}", ex);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("vehicles", out var inner))
                root = inner;
            if (root.ValueKind != JsonValueKind.Array)
                throw new FormatException("Vehicle registry JSON must be an array of vehicles or an object with a \"vehicles\" array.");
            var result = new List<VehicleInfo>();
            var i = 0;
            foreach (var e in root.EnumerateArray())
            {
                Row? row;
                try
                {
                    row = e.Deserialize<Row>(JsonOptions);
                }
                catch (JsonException ex)
                {
                    throw new FormatException($"Vehicle registry element {i}: {ex.Message}", ex);
                }
                if (row is null || string.IsNullOrWhiteSpace(row.Vin))
                    throw new FormatException($"Vehicle registry element {i} has no vin.");
                result.Add(Make(row.Vin, row.Fleet, row.Region, row.EngineModel, row.ReferenceTorqueNm, row.EmissionStage, $"element {i}")
                    with { TerminalProfile = Profile(row.TerminalProfile, $"element {i}"), TerminalPublicKey = PublicKey(row.TerminalPublicKey, $"element {i}") });
                i++;
            }
            return result;
        }
    }

    private static List<VehicleInfo> ParseCsv(string text)
    {
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            PrepareHeaderForMatch = args => args.Header.Trim().ToLowerInvariant(),
            TrimOptions = TrimOptions.Trim,
            AllowComments = true,
            Comment = '#',
            IgnoreBlankLines = true,
            MissingFieldFound = null,
            HeaderValidated = null,
            BadDataFound = null,
        };
        var result = new List<VehicleInfo>();
        using var reader = new StringReader(text);
        using var csv = new CsvReader(reader, config);
        try
        {
            if (!csv.Read() || !csv.ReadHeader())
                return result;
            if (csv.HeaderRecord is not { } header || !header.Any(h => string.Equals(h.Trim(), "vin", StringComparison.OrdinalIgnoreCase)))
                throw new FormatException($"Vehicle registry CSV header (line {csv.Parser.RawRow}) has no vin column.");
            while (csv.Read())
            {
                var where = $"line {csv.Parser.RawRow}";
                string? Cell(string name) => csv.TryGetField<string>(name.ToLowerInvariant(), out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
                if (csv.Parser.Record is { } cells && cells.All(string.IsNullOrWhiteSpace))
                    continue;
                var vin = Cell("vin") ?? throw new FormatException($"Vehicle registry CSV {where} has no vin.");
                double? torque = null;
                if (Cell("referenceTorqueNm") is { } t)
                {
                    if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                        throw new FormatException($"Vehicle registry CSV {where}: referenceTorqueNm \"{t}\" is not a number.");
                    torque = value;
                }
                result.Add(Make(vin, Cell("fleet"), Cell("region"), Cell("engineModel"), torque, Cell("emissionStage"), where)
                    with { TerminalProfile = Profile(Cell("terminalProfile"), where), TerminalPublicKey = PublicKey(Cell("terminalPublicKey"), where) });
            }
        }
        catch (CsvHelperException ex)
        {
            throw new FormatException($"Vehicle registry CSV line {ex.Context?.Parser?.RawRow}: {ex.Message.Split('\n')[0]}", ex);
        }
        return result;
    }

    /// <summary>The columns of registry CSV, in the order <see cref="ToCsv"/> writes them.</summary>
    public static IReadOnlyList<string> CsvColumns { get; } =
        ["vin", "fleet", "region", "engineModel", "referenceTorqueNm", "emissionStage", "terminalProfile", "terminalPublicKey"];

    /// <summary>
    /// <paramref name="vehicles"/> as registry CSV (a header of <see cref="CsvColumns"/>, then one vehicle per line,
    /// quoted where needed) that <see cref="Parse"/> reads back to the same records.
    /// </summary>
    public static string ToCsv(IEnumerable<VehicleInfo> vehicles)
    {
        ArgumentNullException.ThrowIfNull(vehicles);
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        using (var csv = new CsvWriter(writer, new CsvConfiguration(CultureInfo.InvariantCulture) { NewLine = "\n" }))
        {
            foreach (var column in CsvColumns)
                csv.WriteField(column);
            csv.NextRecord();
            foreach (var v in vehicles)
            {
                csv.WriteField(v.Vin);
                csv.WriteField(v.Fleet);
                csv.WriteField(v.Region);
                csv.WriteField(v.EngineModel);
                csv.WriteField(v.ReferenceTorqueNm?.ToString("R", CultureInfo.InvariantCulture));
                csv.WriteField(v.EmissionStage);
                csv.WriteField(v.TerminalProfile);
                csv.WriteField(v.TerminalPublicKey);
                csv.NextRecord();
            }
        }
        return writer.ToString();
    }

    /// <summary><paramref name="vehicles"/> as registry JSON (an array of objects, unknown fields left out) that <see cref="Parse"/> reads back.</summary>
    public static string ToJson(IEnumerable<VehicleInfo> vehicles)
    {
        ArgumentNullException.ThrowIfNull(vehicles);
        var rows = vehicles.Select(v => new Row(v.Vin, v.Fleet, v.Region, v.EngineModel, v.ReferenceTorqueNm, v.EmissionStage, v.TerminalProfile, v.TerminalPublicKey));
        return JsonSerializer.Serialize(rows, WriteOptions);
    }

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    private static VehicleInfo Make(string vin, string? fleet, string? region, string? engine, double? torque, string? stage, string where)
    {
        vin = vin.Trim().ToUpperInvariant();
        if (vin.Length != 17)
            throw new FormatException($"Vehicle registry {where}: VIN \"{vin}\" is not 17 characters.");
        if (torque is { } t && !(t > 0 && t < 100_000))
            throw new FormatException($"Vehicle registry {where}: referenceTorqueNm {t} is not a plausible torque in N m.");
        return new VehicleInfo { Vin = vin, Fleet = fleet, Region = region, EngineModel = engine, ReferenceTorqueNm = torque, EmissionStage = stage };
    }

    private static string? Profile(string? name, string where)
    {
        name = name?.Trim();
        if (string.IsNullOrEmpty(name))
            return null;
        if (name.Length > 32 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new FormatException($"Vehicle registry {where}: terminalProfile \"{name}\" is not a profile name (1-32 characters of a-z, 0-9, '-', '_').");
        return name;
    }

    private static string? PublicKey(string? hex, string where)
    {
        hex = hex?.Trim();
        if (string.IsNullOrEmpty(hex))
            return null;
        if (hex.Length is not (66 or 128 or 130) || !hex.All(char.IsAsciiHexDigit))
            throw new FormatException($"Vehicle registry {where}: terminalPublicKey is not an SM2 public key in hex (130 digits 04||X||Y, 128 without 04, or 66 compressed).");
        return hex;
    }

    private sealed record Row(string? Vin, string? Fleet, string? Region, string? EngineModel, double? ReferenceTorqueNm, string? EmissionStage,
        string? TerminalProfile = null, string? TerminalPublicKey = null);
}
