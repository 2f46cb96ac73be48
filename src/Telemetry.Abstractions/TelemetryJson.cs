using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Abstractions;

/// <summary>
/// The one JSON shape of the project's documents (API answers, alert store, evidence):
/// camelCase names, enums as camelCase strings, samples through <see cref="SampleJsonConverter"/>
/// and every missing number (NaN) as <c>null</c>, never as a number.
/// </summary>
public static class TelemetryJson
{
    /// <summary>Shared, read-only serializer options.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        };
        options.Converters.Add(new SampleJsonConverter());
        options.Converters.Add(new NanAsNullDoubleConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>Writes NaN and infinities as <c>null</c> and reads <c>null</c> as NaN.</summary>
public sealed class NanAsNullDoubleConverter : JsonConverter<double>
{
    /// <inheritdoc />
    public override bool HandleNull => true;

    /// <inheritdoc />
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
