using System.Buffers;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// Maps samples and alerts to line-protocol points. Pure: the InfluxDB writer, the file store and
/// the tests all use these lines.
/// </summary>
/// <remarks>
/// <para>Samples: measurement <c>hdv</c>, tag <c>vin</c>, one float field per canonical name of
/// <see cref="SampleFields.All"/> that holds a measurement (a missing value is omitted, never
/// written as a number; the supplementary record's fields such as <c>ureaDosingMlph</c> too),
/// <c>positionValid</c> (boolean), <c>positionStatus</c> (integer) and, for signed terminals only,
/// <c>signature</c> (integer: 1 verified, 2 not verified for want of a key, 3 failed),
/// at the sample time in seconds. In VictoriaMetrics these become metrics such as
/// <c>hdv_noxDownstreamPpm{vin="..."}</c>.</para>
/// <para>Alerts: measurement <c>hdv_alert</c>, tags <c>vin</c>, <c>rule</c>, <c>severity</c>,
/// <c>status</c> and, when known, <c>fleet</c>, <c>region</c> and <c>zone</c>; fields <c>measured_*</c> and
/// <c>threshold_*</c> for every finite value of the alert, <c>latitude</c> and <c>longitude</c> of a valid position, <c>revision</c> (integer) and
/// <c>durationS</c> (float: from start to end, or to the last time the condition held while open);
/// at the episode's start time. No string fields: VictoriaMetrics would store them as zeros.</para>
/// </remarks>
public static class SamplePoints
{
    /// <summary>Measurement of samples.</summary>
    public const string SampleMeasurement = "hdv";

    /// <summary>Measurement of alert changes.</summary>
    public const string AlertMeasurement = "hdv_alert";

    /// <summary>Boolean field: the terminal reported a valid position fix.</summary>
    public const string PositionValidField = "positionValid";

    /// <summary>Integer field: the raw position status byte.</summary>
    public const string PositionStatusField = "positionStatus";

    /// <summary>
    /// Integer field, only on samples of signed terminals: 1 the record's SM2 signature verified,
    /// 2 not verified (no key registered), 3 the signature failed (see <see cref="SignatureCheck"/>).
    /// </summary>
    public const string SignatureField = SampleFields.SignatureName;

    /// <summary>Prefix of the alert fields that carry measured values.</summary>
    public const string MeasuredPrefix = "measured_";

    /// <summary>Prefix of the alert fields that carry thresholds.</summary>
    public const string ThresholdPrefix = "threshold_";

    /// <summary>The line of one sample of vehicle <paramref name="vin"/>.</summary>
    public static string ToLine(SeriesKey vin, in Sample sample)
    {
        var head = SeriesHead(vin);
        var buffer = new byte[head.Length + Utf8SampleLine.MaxFieldBytes];
        return Encoding.UTF8.GetString(buffer, 0, Utf8SampleLine.Write(buffer, head, sample));
    }

    /// <summary>The lines of <paramref name="samples"/> of vehicle <paramref name="vin"/>, in order.</summary>
    public static string[] ToLines(SeriesKey vin, IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var lines = new string[samples.Count];
        if (samples.Count == 0)
            return lines;
        var head = SeriesHead(vin);
        var buffer = new byte[head.Length + Utf8SampleLine.MaxFieldBytes];
        for (var i = 0; i < samples.Count; i++)
            lines[i] = Encoding.UTF8.GetString(buffer, 0, Utf8SampleLine.Write(buffer, head, samples[i]));
        return lines;
    }

    /// <summary>
    /// Writes the UTF-8 lines of <paramref name="samples"/> of one vehicle to <paramref name="output"/>,
    /// separated by <c>\n</c> (no trailing one): the payload of one journal record. Returns the bytes
    /// written. The same text as <see cref="ToLines"/>, rendered without a string or a number allocated.
    /// </summary>
    public static int WriteLines(IBufferWriter<byte> output, SeriesKey series, IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
            return 0;
        return WriteLines(output, SeriesHead(series), samples, include: null);
    }

    /// <summary>The lines of <paramref name="samples"/> under <paramref name="head"/>, only the fields <paramref name="include"/>d (all when null).</summary>
    private static int WriteLines(IBufferWriter<byte> output, ReadOnlySpan<byte> head, IReadOnlyList<Sample> samples, bool[]? include)
    {
        var total = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            var span = output.GetSpan(head.Length + Utf8SampleLine.MaxFieldBytes + 1);
            var length = 0;
            if (i > 0)
                span[length++] = (byte)'\n';
            length += Utf8SampleLine.Write(span[length..], head, samples[i], include, withPosition: true);
            output.Advance(length);
            total += length;
        }

        return total;
    }

    /// <summary>
    /// The <c>adaptive</c> policy's journal payload: the non-core fields of the samples in binary
    /// (<see cref="Journal.DetailBlock"/>, which the detail shipper renders as <c>hdv</c> lines around alert
    /// episodes only), then each sample's core line (<c>hdv</c>). Returns the record type: a
    /// <see cref="Journal.JournalRecordType.Points"/> record when no sample has a non-core field.
    /// </summary>
    internal static Journal.JournalRecordType WriteAdaptive(IBufferWriter<byte> output, SeriesKey series, IReadOnlyList<Sample> samples)
    {
        var core = SeriesHead(series);
        var type = Journal.DetailBlock.Write(output, core, samples) ? Journal.JournalRecordType.PointsWithDetail : Journal.JournalRecordType.Points;
        WriteLines(output, core, samples, AdaptiveFields.IsCore);
        return type;
    }

    /// <summary><c>{measurement},vin=...[,fleet=...][,region=...]</c> in UTF-8, escaped.</summary>
    internal static byte[] SeriesHead(SeriesKey series, string measurement = SampleMeasurement)
    {
        // The VIN first: recovery after a crash reads it from the start of each line.
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        if (PlainHead(series, measurement) is { } plain)
            return plain;
        var builder = new StringBuilder(64);
        var line = new LineBuilder(builder).Begin(measurement).Tag("vin", series.Vin);
        if (!string.IsNullOrEmpty(series.Fleet))
            line.Tag("fleet", series.Fleet);
        if (!string.IsNullOrEmpty(series.Region))
            line.Tag("region", series.Region);
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    // Once per frame: without anything to escape (the usual case) the head is encoded straight into one array.
    private static byte[]? PlainHead(SeriesKey series, string measurement)
    {
        var fleet = series.Fleet ?? "";
        var region = series.Region ?? "";
        if (LineProtocol.NeedsEscaping(measurement) || LineProtocol.NeedsEscaping(series.Vin)
            || LineProtocol.NeedsEscaping(fleet) || LineProtocol.NeedsEscaping(region))
            return null;
        var utf8 = Encoding.UTF8;
        var length = utf8.GetByteCount(measurement) + ",vin=".Length + utf8.GetByteCount(series.Vin)
            + (fleet.Length > 0 ? ",fleet=".Length + utf8.GetByteCount(fleet) : 0)
            + (region.Length > 0 ? ",region=".Length + utf8.GetByteCount(region) : 0);
        var head = new byte[length];
        var at = utf8.GetBytes(measurement, head);
        at += Append(head.AsSpan(at), ",vin="u8, series.Vin);
        if (fleet.Length > 0)
            at += Append(head.AsSpan(at), ",fleet="u8, fleet);
        if (region.Length > 0)
            at += Append(head.AsSpan(at), ",region="u8, region);
        return head;

        static int Append(Span<byte> to, ReadOnlySpan<byte> key, string value)
        {
            key.CopyTo(to);
            return key.Length + Encoding.UTF8.GetBytes(value, to[key.Length..]);
        }
    }

    /// <summary>The line of one alert change, at the episode's start time.</summary>
    public static string ToLine(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var builder = new StringBuilder(256);
        var line = new LineBuilder(builder)
            .Begin(AlertMeasurement)
            .Tag("fleet", alert.Fleet)
            .Tag("region", alert.Region)
            .Tag("rule", alert.RuleId)
            .Tag("severity", SeverityTag(alert.Severity))
            .Tag("status", StatusTag(alert.Status))
            .Tag("vin", alert.Vin)
            .Tag("zone", alert.Zone);
        foreach (var (name, value) in alert.Measured)
            line.Field(MeasuredPrefix + name, value);
        foreach (var (name, value) in alert.Thresholds)
            line.Field(ThresholdPrefix + name, value);
        if (alert.Position is { Valid: true } position)
        {
            // The map of vehicles with open episodes needs no join with the samples.
            line.Field("latitude", position.Latitude)
                .Field("longitude", position.Longitude);
        }
        line.Field("revision", (long)alert.Revision)
            .Field("durationS", DurationSeconds(alert))
            .End(LineProtocol.ToUnixSeconds(alert.StartUtc));
        return builder.ToString();
    }

    /// <summary>The <c>severity</c> tag value: <c>advisory</c>, <c>warning</c> or <c>critical</c>.</summary>
    public static string SeverityTag(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Advisory => "advisory",
        AlertSeverity.Warning => "warning",
        AlertSeverity.Critical => "critical",
        _ => ((int)severity).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The <c>status</c> tag value: <c>open</c> or <c>closed</c>.</summary>
    public static string StatusTag(AlertStatus status) => status switch
    {
        AlertStatus.Open => "open",
        AlertStatus.Closed => "closed",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Seconds from the episode's start to its end, or to the last time the condition held while it is open.</summary>
    public static double DurationSeconds(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var end = alert.EndUtc ?? alert.LastHeldUtc;
        var seconds = (end - alert.StartUtc).TotalSeconds;
        return seconds > 0 ? seconds : 0;
    }
}
