using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Abstractions;

/// <summary>
/// Writes a <see cref="Sample"/> as a JSON object with the canonical field names (src/Telemetry.Protocol/PROTOCOL.md) and
/// <c>null</c> for every missing value (NaN is never written as a number), plus
/// <c>positionValid</c> and <c>positionStatus</c>; reads the same shape back. Used by the API,
/// the alert store and the dead-letter and evidence files so that one shape exists.
/// </summary>
public sealed class SampleJsonConverter : JsonConverter<Sample>
{
    private static readonly Dictionary<string, SampleFields.Field> FieldsByName =
        SampleFields.All.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public override Sample Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A sample must be a JSON object.");
        }
        var sample = Sample.Empty(default);
        var hasStatus = false;
        bool? positionValid = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString() ?? "";
            reader.Read();
            if (name == "time")
            {
                sample = sample with { TimeUtc = reader.GetDateTimeOffset().UtcDateTime };
                continue;
            }
            if (name == "positionStatus" && reader.TokenType == JsonTokenType.Number)
            {
                sample = sample with { PositionStatus = reader.GetByte() };
                hasStatus = true;
                continue;
            }
            if (name == "positionValid" && reader.TokenType is JsonTokenType.True or JsonTokenType.False)
            {
                positionValid = reader.GetBoolean();
                continue;
            }
            if (name == SampleFields.SignatureName && reader.TokenType == JsonTokenType.String)
            {
                if (SampleFields.TryParseSignature(reader.GetString(), out var check))
                {
                    sample = sample with { Signature = check };
                }
                continue;
            }
            if (!FieldsByName.TryGetValue(name, out var field))
            {
                reader.Skip();
                continue;
            }
            var value = reader.TokenType switch
            {
                JsonTokenType.Null => double.NaN,
                JsonTokenType.Number => reader.GetDouble(),
                _ => throw new JsonException($"Field '{name}' must be a number or null."),
            };
            sample = field.With(sample, value);
        }
        if (!hasStatus)
        {
            var status = positionValid == true ? 0 : 1;
            if (Sample.Has(sample.Longitude) && sample.Longitude < 0)
            {
                status |= 0x04;
            }
            if (Sample.Has(sample.Latitude) && sample.Latitude < 0)
            {
                status |= 0x02;
            }
            sample = sample with { PositionStatus = (byte)status };
        }
        return sample;
    }

    public override void Write(Utf8JsonWriter writer, Sample value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("time", DateTime.SpecifyKind(value.TimeUtc, DateTimeKind.Utc));
        foreach (var field in SampleFields.All)
        {
            var v = field.Get(value);
            if (double.IsFinite(v))
            {
                writer.WriteNumber(field.Name, v);
            }
            else
            {
                writer.WriteNull(field.Name);
            }
        }
        writer.WriteBoolean("positionValid", value.PositionValid);
        writer.WriteNumber("positionStatus", value.PositionStatus);
        if (value.Signature != SignatureCheck.NotSigned)
        {
            writer.WriteString(SampleFields.SignatureName, SampleFields.SignatureText(value.Signature));
        }
        writer.WriteEndObject();
    }
}
