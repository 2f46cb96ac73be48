using System.Buffers;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// The JSON shape for terminals and gateways that cannot send binary frames (topic
/// <c>hdv/{vin}/json</c>), and the shape the CLI prints. Field names are PROTOCOL.md's canonical
/// names from <see cref="SampleFields"/>; the README documents the shape with an example.
/// Decoding ignores unknown fields, rejects a wrong type or an absurd value naming the field,
/// and never throws.
/// </summary>
public static class JsonFrameFormat
{
    /// <summary>Most OBD snapshots one message may carry.</summary>
    public const int MaxObdSnapshots = 16;

    private static readonly FrozenDictionary<string, int> FieldIndex =
        SampleFields.All.Select((field, index) => (field.Name, index)).ToFrozenDictionary(p => p.Name, p => p.index, StringComparer.Ordinal);

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = false };

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 16, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>The JSON word of a frame kind: <c>login</c>, <c>realtime</c>, <c>reissue</c>, <c>logout</c>, <c>timeSync</c>, <c>removalAlarm</c>.</summary>
    public static string CommandName(FrameKind kind) => kind switch
    {
        FrameKind.Login => "login",
        FrameKind.RealTime => "realtime",
        FrameKind.Reissue => "reissue",
        FrameKind.Logout => "logout",
        FrameKind.TimeSync => "timeSync",
        FrameKind.RemovalAlarm => "removalAlarm",
        _ => "unknown",
    };

    private static bool TryParseCommand(string name, out FrameKind kind)
    {
        kind = name switch
        {
            "login" => FrameKind.Login,
            "realtime" => FrameKind.RealTime,
            "reissue" => FrameKind.Reissue,
            "logout" => FrameKind.Logout,
            "timeSync" => FrameKind.TimeSync,
            "removalAlarm" => FrameKind.RemovalAlarm,
            _ => 0,
        };
        return kind != 0;
    }

    // ------------------------------------------------------------------ writing

    /// <summary>The batch as one UTF-8 JSON object.</summary>
    public static byte[] Encode(TelemetryBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            WriteProperties(writer, batch);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the batch's properties into the JSON object that <paramref name="writer"/> has open.</summary>
    public static void WriteProperties(Utf8JsonWriter writer, TelemetryBatch batch)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(batch);
        writer.WriteString("vin", batch.Vin);
        writer.WriteString("command", CommandName(batch.Kind));
        writer.WriteString("time", FormatTime(batch.FrameTimeUtc));
        writer.WriteNumber("serial", batch.Serial);
        writer.WriteStartArray("samples");
        foreach (var sample in batch.Samples.IsDefault ? [] : batch.Samples)
            WriteSample(writer, sample);
        writer.WriteEndArray();
        var obd = batch.Obd.IsDefault ? [] : batch.Obd;
        if (obd.Length == 1)
        {
            writer.WritePropertyName("obd");
            WriteObd(writer, obd[0]);
        }
        else if (obd.Length > 1)
        {
            writer.WriteStartArray("obd");
            foreach (var snapshot in obd)
                WriteObd(writer, snapshot);
            writer.WriteEndArray();
        }
        if (batch.Iccid is not null)
            writer.WriteString("iccid", batch.Iccid);
        if (batch.AlarmPosition is { } position)
        {
            writer.WriteStartObject("position");
            WriteNumberOrNull(writer, "longitude", position.Longitude);
            WriteNumberOrNull(writer, "latitude", position.Latitude);
            writer.WriteBoolean("valid", position.Valid);
            writer.WriteEndObject();
        }
    }

    private static void WriteSample(Utf8JsonWriter writer, in Sample sample)
    {
        writer.WriteStartObject();
        writer.WriteString("time", FormatTime(sample.TimeUtc));
        foreach (var field in SampleFields.Diesel)
        {
            if (field.Name == DieselFields.Longitude.Name)
            {
                writer.WriteNumber("positionStatus", sample.PositionStatus);
                writer.WriteBoolean("positionValid", sample.PositionValid);
            }
            WriteNumberOrNull(writer, field.Name, field.Get(sample));
        }
        // The supplementary record's fields only when the terminal sent one.
        if (SupplementaryFields.HasAny(sample))
        {
            foreach (var field in SampleFields.Supplementary)
                WriteNumberOrNull(writer, field.Name, field.Get(sample));
        }
        if (sample.Signature != SignatureCheck.NotSigned)
            writer.WriteString(SampleFields.SignatureName, SampleFields.SignatureText(sample.Signature));
        writer.WriteEndObject();
    }

    private static void WriteObd(Utf8JsonWriter writer, ObdSnapshot obd)
    {
        writer.WriteStartObject();
        writer.WriteString("time", FormatTime(obd.TimeUtc));
        if (obd.ObdProtocol is { } protocol)
            writer.WriteNumber("obdProtocol", protocol);
        else
            writer.WriteNull("obdProtocol");
        if (obd.MilOn is { } mil)
            writer.WriteBoolean("milOn", mil);
        else
            writer.WriteNull("milOn");
        writer.WriteNumber("diagnosticSupport", obd.DiagnosticSupport);
        writer.WriteNumber("diagnosticReadiness", obd.DiagnosticReadiness);
        writer.WriteString("vin", obd.Vin);
        writer.WriteString("calibrationId", obd.CalibrationId);
        writer.WriteString("cvn", obd.Cvn);
        writer.WriteString("iupr", obd.Iupr.IsDefaultOrEmpty ? "" : Convert.ToHexString(obd.Iupr.AsSpan()));
        if (obd.DtcCountInvalid)
            writer.WriteNull("dtcCount");
        else
            writer.WriteNumber("dtcCount", obd.DtcCount);
        writer.WriteStartArray("dtcs");
        foreach (var dtc in obd.Dtcs.IsDefault ? [] : obd.Dtcs)
            writer.WriteStringValue(dtc.ToString("X8", CultureInfo.InvariantCulture));
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsFinite(value))
            writer.WriteNumber(name, value);
        else
            writer.WriteNull(name);
    }

    /// <summary>ISO 8601 UTC with a Z, with fractional seconds only when present.</summary>
    public static string FormatTime(DateTime utc) =>
        utc.Ticks % TimeSpan.TicksPerSecond == 0
            ? utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------ reading

    /// <summary>
    /// Decodes one JSON message. At most <paramref name="maxSamples"/> samples, <see cref="MaxObdSnapshots"/>
    /// OBD snapshots and 252 fault codes per snapshot are accepted. Never throws.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> utf8, DateTime receivedUtc, int maxSamples,
        [NotNullWhen(true)] out TelemetryBatch? batch, out Rejection rejection)
    {
        batch = null;
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            rejection = new(RejectReason.BadJson, "The payload is not valid UTF-8.");
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(utf8, ReaderOptions);
            using var document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
                throw Reject(RejectReason.BadJson, "The payload holds more than one JSON value.");
            batch = ReadMessage(document.RootElement, receivedUtc, maxSamples);
            rejection = default;
            return true;
        }
        catch (JsonRejection ex)
        {
            rejection = ex.Rejection;
            return false;
        }
        catch (JsonException ex)
        {
            rejection = new(RejectReason.BadJson, $"The payload is not valid JSON: {ex.Message}");
            return false;
        }
        catch (InvalidOperationException ex)
        {
            // A string escape that is no valid UTF-16 (a lone surrogate) cannot be read as text.
            rejection = new(RejectReason.BadJson, $"The payload holds a string that is not valid text: {ex.Message}");
            return false;
        }
    }

    private static TelemetryBatch ReadMessage(JsonElement root, DateTime receivedUtc, int maxSamples)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Reject(RejectReason.BadJson, $"The payload is a JSON {root.ValueKind}, not an object.");
        string? vin = null;
        string? commandName = null;
        DateTime? time = null;
        ushort serial = 0;
        JsonElement? samplesElement = null;
        JsonElement? obdElement = null;
        string? iccid = null;
        GeoFix? position = null;
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "vin": vin = RequireString(value, "vin"); break;
                case "command": commandName = RequireString(value, "command"); break;
                case "time": time = ReadTime(value, "time"); break;
                case "serial": serial = (ushort)ReadInteger(value, "serial", 0, ushort.MaxValue); break;
                case "samples": samplesElement = value.ValueKind == JsonValueKind.Null ? null : value; break;
                case "obd": obdElement = value.ValueKind == JsonValueKind.Null ? null : value; break;
                case "iccid": iccid = value.ValueKind == JsonValueKind.Null ? null : ReadText(value, "iccid", FrameCodec.IccidLength); break;
                case "position": position = value.ValueKind == JsonValueKind.Null ? null : ReadPosition(value); break;
                default: break;
            }
        }
        if (vin is null)
            throw Reject(RejectReason.BadJson, "Field vin is missing.");
        if (!Wire.IsValidVin(vin))
            throw Reject(RejectReason.BadVin, $"Field vin '{Truncate(vin)}' is not 17 characters of [A-HJ-NPR-Z0-9].");
        if (commandName is null)
            throw Reject(RejectReason.BadJson, "Field command is missing.");
        if (!TryParseCommand(commandName, out var kind))
            throw Reject(RejectReason.UnsupportedCommand, $"Field command '{Truncate(commandName)}' is not one of login, realtime, reissue, logout, timeSync, removalAlarm.");
        if (time is null && kind != FrameKind.TimeSync)
            throw Reject(RejectReason.BadJson, "Field time is missing.");
        var frameTime = time ?? receivedUtc;

        var samples = ImmutableArray<Sample>.Empty;
        if (samplesElement is { } samplesJson)
        {
            if (samplesJson.ValueKind != JsonValueKind.Array)
                throw Reject(RejectReason.BadJson, $"Field samples is a JSON {samplesJson.ValueKind}, not an array.");
            var count = samplesJson.GetArrayLength();
            if (count > maxSamples)
                throw Reject(RejectReason.TooManySamples, $"Field samples has {count} samples; at most {maxSamples} are accepted per message.");
            var array = new Sample[count];
            var i = 0;
            foreach (var item in samplesJson.EnumerateArray())
            {
                array[i] = ReadSample(item, i);
                i++;
            }
            samples = ImmutableCollectionsMarshal.AsImmutableArray(array);
        }

        var obd = ImmutableArray<ObdSnapshot>.Empty;
        if (obdElement is { } obdJson)
        {
            if (obdJson.ValueKind == JsonValueKind.Object)
            {
                obd = [ReadObd(obdJson, frameTime, "obd")];
            }
            else if (obdJson.ValueKind == JsonValueKind.Array)
            {
                var count = obdJson.GetArrayLength();
                if (count > MaxObdSnapshots)
                    throw Reject(RejectReason.TooManySamples, $"Field obd has {count} snapshots; at most {MaxObdSnapshots} are accepted per message.");
                var builder = ImmutableArray.CreateBuilder<ObdSnapshot>(count);
                var i = 0;
                foreach (var item in obdJson.EnumerateArray())
                    builder.Add(ReadObd(item, frameTime, $"obd[{i++}]"));
                obd = builder.MoveToImmutable();
            }
            else
            {
                throw Reject(RejectReason.BadJson, $"Field obd is a JSON {obdJson.ValueKind}, not an object or an array.");
            }
        }
        if (kind is not (FrameKind.RealTime or FrameKind.Reissue) && (samples.Length > 0 || obd.Length > 0))
            throw Reject(RejectReason.BadJson, $"A {commandName} message carries no samples or obd; only realtime and reissue do.");

        return new TelemetryBatch(vin, kind, frameTime, serial, samples, obd, receivedUtc)
        {
            Iccid = kind == FrameKind.Login ? iccid ?? "" : null,
            AlarmPosition = kind == FrameKind.RemovalAlarm ? position ?? new GeoFix(double.NaN, double.NaN, false) : null,
        };
    }

    private static Sample ReadSample(JsonElement item, int index)
    {
        var path = $"samples[{index}]";
        if (item.ValueKind != JsonValueKind.Object)
            throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {item.ValueKind}, not an object.");
        DateTime? time = null;
        int? status = null;
        bool? valid = null;
        Span<double> values = stackalloc double[SampleFields.All.Count];
        values.Fill(double.NaN);
        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            if (FieldIndex.TryGetValue(property.Name, out var fieldIndex))
            {
                values[fieldIndex] = ReadMeasurement(value, $"{path}.{property.Name}", SupplementaryFields.Canonical[fieldIndex]);
                continue;
            }
            switch (property.Name)
            {
                case "time": time = ReadTime(value, $"{path}.time"); break;
                case "positionStatus": status = value.ValueKind == JsonValueKind.Null ? null : (int)ReadInteger(value, $"{path}.positionStatus", 0, 255); break;
                case "positionValid": valid = value.ValueKind == JsonValueKind.Null ? null : RequireBoolean(value, $"{path}.positionValid"); break;
                default: break;
            }
        }
        if (time is null)
            throw Reject(RejectReason.BadJson, $"Field {path}.time is missing.");
        var sample = Sample.Empty(time.Value);
        for (var i = 0; i < values.Length; i++)
            sample = SampleFields.All[i].With(sample, values[i]);
        var longitude = sample.Longitude;
        var latitude = sample.Latitude;
        var positionStatus = status ?? (double.IsNaN(longitude) || double.IsNaN(latitude) ? 0x01 : 0x00);
        if (status is null && valid is { } isValid)
            positionStatus = isValid ? positionStatus & ~0x01 : positionStatus | 0x01;
        if (!double.IsNaN(longitude))
            positionStatus = double.IsNegative(longitude) ? positionStatus | 0x04 : positionStatus & ~0x04;
        if (!double.IsNaN(latitude))
            positionStatus = double.IsNegative(latitude) ? positionStatus | 0x02 : positionStatus & ~0x02;
        return sample with { PositionStatus = (byte)positionStatus };
    }

    private static double ReadMeasurement(JsonElement value, string path, FieldScale scale)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return double.NaN;
        if (value.ValueKind != JsonValueKind.Number)
            throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {value.ValueKind}, not a number or null.");
        if (!value.TryGetDouble(out var number) || !double.IsFinite(number))
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path} is not a finite number.");
        // Coordinates are signed; their scale gives the magnitude.
        var signed = ReferenceEquals(scale, DieselFields.Longitude) || ReferenceEquals(scale, DieselFields.Latitude);
        var min = signed ? -scale.Max : scale.Min;
        if (number < min || number > scale.Max)
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path} = {number.ToString(CultureInfo.InvariantCulture)} is outside {min.ToString(CultureInfo.InvariantCulture)}..{scale.Max.ToString(CultureInfo.InvariantCulture)}.");
        return number;
    }

    private static ObdSnapshot ReadObd(JsonElement item, DateTime frameTime, string path)
    {
        if (item.ValueKind != JsonValueKind.Object)
            throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {item.ValueKind}, not an object.");
        var obd = new ObdSnapshot { TimeUtc = frameTime };
        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            var name = $"{path}.{property.Name}";
            obd = property.Name switch
            {
                "time" => obd with { TimeUtc = ReadTime(value, name) },
                "obdProtocol" => obd with { ObdProtocol = value.ValueKind == JsonValueKind.Null ? null : (byte)ReadInteger(value, name, 0, 0xFA) },
                "milOn" => obd with { MilOn = value.ValueKind == JsonValueKind.Null ? null : RequireBoolean(value, name) },
                "diagnosticSupport" => obd with { DiagnosticSupport = (ushort)ReadInteger(value, name, 0, ushort.MaxValue) },
                "diagnosticReadiness" => obd with { DiagnosticReadiness = (ushort)ReadInteger(value, name, 0, ushort.MaxValue) },
                "vin" => obd with { Vin = ReadText(value, name, 17) },
                "calibrationId" => obd with { CalibrationId = ReadText(value, name, 18) },
                "cvn" => obd with { Cvn = ReadText(value, name, 18) },
                "iupr" => obd with { Iupr = ReadIupr(value, name) },
                "dtcs" => obd with { Dtcs = ReadDtcs(value, name) },
                "dtcCount" => value.ValueKind == JsonValueKind.Null ? obd with { DtcCountInvalid = true } : obd,
                _ => obd,
            };
        }
        if (obd.DtcCountInvalid && obd.DtcCount > 0)
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path}.dtcCount is null (count invalid), so {path}.dtcs must be empty.");
        return obd;
    }

    private static ImmutableArray<byte> ReadIupr(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return [];
        var text = RequireString(value, path);
        if (text.Length == 0)
            return [];
        if (text.Length != 2 * ObdCodec.IuprLength)
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path} has {text.Length} hex digits; it needs {2 * ObdCodec.IuprLength}.");
        var bytes = new byte[ObdCodec.IuprLength];
        if (Convert.FromHexString(text, bytes, out _, out _) != OperationStatus.Done)
            throw Reject(RejectReason.BadJson, $"Field {path} is not hex.");
        return ImmutableCollectionsMarshal.AsImmutableArray(bytes);
    }

    private static ImmutableArray<uint> ReadDtcs(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return [];
        if (value.ValueKind != JsonValueKind.Array)
            throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {value.ValueKind}, not an array.");
        var count = value.GetArrayLength();
        if (count > RecordTypes.MaxDtcCount)
            throw Reject(RejectReason.TooManySamples, $"Field {path} has {count} fault codes; at most {RecordTypes.MaxDtcCount} fit in a record.");
        var dtcs = new uint[count];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            var itemPath = $"{path}[{i}]";
            if (item.ValueKind == JsonValueKind.String)
            {
                var text = item.GetString()!;
                if (text.Length is 0 or > 8 || !uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out dtcs[i]))
                    throw Reject(RejectReason.BadJson, $"Field {itemPath} is not 1-8 hex digits.");
            }
            else
            {
                dtcs[i] = (uint)ReadInteger(item, itemPath, 0, uint.MaxValue);
            }
            i++;
        }
        return ImmutableCollectionsMarshal.AsImmutableArray(dtcs);
    }

    private static GeoFix ReadPosition(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Reject(RejectReason.BadJson, $"Field position is a JSON {value.ValueKind}, not an object.");
        double longitude = double.NaN, latitude = double.NaN;
        bool? valid = null;
        foreach (var property in value.EnumerateObject())
        {
            switch (property.Name)
            {
                case "longitude": longitude = ReadMeasurement(property.Value, "position.longitude", DieselFields.Longitude); break;
                case "latitude": latitude = ReadMeasurement(property.Value, "position.latitude", DieselFields.Latitude); break;
                case "valid": valid = RequireBoolean(property.Value, "position.valid"); break;
                default: break;
            }
        }
        var isValid = (valid ?? true) && !double.IsNaN(longitude) && !double.IsNaN(latitude);
        return new GeoFix(longitude, latitude, isValid);
    }

    private static string ReadText(JsonElement value, string path, int maxBytes)
    {
        var text = RequireString(value, path);
        try
        {
            Wire.WriteText(stackalloc byte[maxBytes], text, path);
        }
        catch (ArgumentException)
        {
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path} '{Truncate(text)}' is not at most {maxBytes} printable ASCII characters (or 0x and hex of at most {maxBytes} bytes).");
        }
        return text;
    }

    private static DateTime ReadTime(JsonElement value, string path)
    {
        var text = RequireString(value, path);
        var hasZone = text.EndsWith('Z') || text.EndsWith('z')
            || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        if (!hasZone || !value.TryGetDateTimeOffset(out var time))
            throw Reject(RejectReason.BadJson, $"Field {path} '{Truncate(text)}' is not an ISO 8601 time with Z or an offset.");
        var utc = time.UtcDateTime;
        if (utc.Year is < 2000 or > 2255)
            throw Reject(RejectReason.TimeOutOfRange, $"Field {path} {FormatTime(utc)} is outside the years 2000-2255 a frame can carry.");
        return utc;
    }

    private static long ReadInteger(JsonElement value, string path, long min, long max)
    {
        if (value.ValueKind != JsonValueKind.Number)
            throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {value.ValueKind}, not an integer.");
        if (!value.TryGetInt64(out var number))
            throw Reject(RejectReason.BadJson, $"Field {path} is not an integer.");
        if (number < min || number > max)
            throw Reject(RejectReason.ValueOutOfRange, $"Field {path} = {number} is outside {min}..{max}.");
        return number;
    }

    private static string RequireString(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {value.ValueKind}, not a string.");

    private static bool RequireBoolean(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Reject(RejectReason.BadJson, $"Field {path} is a JSON {value.ValueKind}, not true or false."),
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";

    private static JsonRejection Reject(RejectReason reason, string message) => new(new Rejection(reason, message));

    /// <summary>Carries a rejection out of the nested readers; never leaves this class.</summary>
    private sealed class JsonRejection(Rejection rejection) : Exception(rejection.Message)
    {
        public Rejection Rejection { get; } = rejection;
    }
}
