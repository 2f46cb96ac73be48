using System.Buffers;
using System.Globalization;
using System.Text;

namespace Telemetry.Storage;

/// <summary>
/// InfluxDB line protocol: <c>measurement,tag=v field=1,other=2i 1700000000</c>. Escaping follows
/// the rules that InfluxDB 1.x, InfluxDB 2.x and VictoriaMetrics read alike.
/// </summary>
/// <remarks>
/// Names and tag values: commas, equals signs and spaces are escaped with a backslash; tabs and
/// line breaks become spaces (a line break would end the point); a backslash becomes <c>/</c>,
/// because InfluxDB 1.x and VictoriaMetrics disagree on what an escaped backslash means and a
/// trailing backslash is rejected by InfluxDB 1.x. String field values escape <c>"</c> and <c>\</c>.
/// Non-finite numbers (NaN, infinities) are not measurements and are never written.
/// </remarks>
public static class LineProtocol
{
    /// <summary>Escapes a measurement name (commas and spaces).</summary>
    public static string EscapeMeasurement(string name) => Escape(name, escapeEquals: false);

    /// <summary>Escapes a tag key, tag value or field key (commas, equals signs and spaces).</summary>
    public static string EscapeKey(string key) => Escape(key, escapeEquals: true);

    /// <summary>Quotes and escapes a string field value.</summary>
    public static string QuoteString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 2);
        AppendQuoted(builder, value);
        return builder.ToString();
    }

    /// <summary>Formats a float field value (shortest round-trip form); null for NaN and infinities.</summary>
    public static string? FormatFloat(double value) =>
        double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : null;

    /// <summary>Seconds since the Unix epoch of <paramref name="time"/> (fractions dropped, toward the past).</summary>
    /// <remarks>A time of unspecified kind is taken as UTC; a local time is converted.</remarks>
    public static long ToUnixSeconds(DateTime time)
    {
        var utc = time.Kind switch
        {
            DateTimeKind.Local => time.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(time, DateTimeKind.Utc),
            _ => time,
        };
        var ticks = utc.Ticks - DateTime.UnixEpoch.Ticks;
        return ticks >= 0 ? ticks / TimeSpan.TicksPerSecond : -((-ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
    }

    // Every character AppendEscaped changes (with escapeEquals): a text without any is written as it is.
    private static readonly SearchValues<char> Escaped = SearchValues.Create(", =\\\n\r\t");

    /// <summary>True when <see cref="AppendEscaped"/> would change <paramref name="text"/> (with or without escaping '=').</summary>
    internal static bool NeedsEscaping(ReadOnlySpan<char> text) => text.ContainsAny(Escaped);

    internal static void AppendEscaped(StringBuilder builder, string text, bool escapeEquals)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case ',':
                case ' ':
                    builder.Append('\\').Append(c);
                    break;
                case '=' when escapeEquals:
                    builder.Append("\\=");
                    break;
                case '\\':
                    builder.Append('/');
                    break;
                case '\n' or '\r' or '\t':
                    builder.Append("\\ ");
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }
    }

    internal static void AppendQuoted(StringBuilder builder, string value)
    {
        builder.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                case '\\':
                    builder.Append('\\').Append(c);
                    break;
                case '\n' or '\r':
                    builder.Append(' ');
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }

        builder.Append('"');
    }

    private static string Escape(string text, bool escapeEquals)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(text.Length + 4);
        AppendEscaped(builder, text, escapeEquals);
        return builder.ToString();
    }
}

/// <summary>
/// Builds one line-protocol point into a <see cref="StringBuilder"/>: measurement, then tags, then
/// fields, then the timestamp. Empty tag values and non-finite numbers are left out.
/// </summary>
internal sealed class LineBuilder(StringBuilder builder)
{
    private int _start;
    private int _fields;

    public StringBuilder Builder => builder;

    public LineBuilder Begin(string measurement)
    {
        _start = builder.Length;
        _fields = 0;
        LineProtocol.AppendEscaped(builder, measurement, escapeEquals: false);
        return this;
    }

    public LineBuilder Tag(string key, string? value)
    {
        if (string.IsNullOrEmpty(value))
            return this;
        builder.Append(',');
        LineProtocol.AppendEscaped(builder, key, escapeEquals: true);
        builder.Append('=');
        LineProtocol.AppendEscaped(builder, value, escapeEquals: true);
        return this;
    }

    public LineBuilder Field(string key, double value)
    {
        if (!double.IsFinite(value))
            return this;
        FieldKey(key);
        builder.Append(value.ToString("R", CultureInfo.InvariantCulture));
        return this;
    }

    public LineBuilder Field(string key, long value)
    {
        FieldKey(key);
        builder.Append(value.ToString(CultureInfo.InvariantCulture)).Append('i');
        return this;
    }

    public LineBuilder Field(string key, bool value)
    {
        FieldKey(key);
        builder.Append(value ? "true" : "false");
        return this;
    }

    public LineBuilder Field(string key, string? value)
    {
        if (value is null)
            return this;
        FieldKey(key);
        LineProtocol.AppendQuoted(builder, value);
        return this;
    }

    /// <summary>Ends the point with its timestamp; a point without fields is removed again and false returned.</summary>
    public bool End(long unixSeconds)
    {
        if (_fields == 0)
        {
            builder.Length = _start;
            return false;
        }

        builder.Append(' ').Append(unixSeconds.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    private void FieldKey(string key)
    {
        builder.Append(_fields++ == 0 ? ' ' : ',');
        LineProtocol.AppendEscaped(builder, key, escapeEquals: true);
        builder.Append('=');
    }
}
