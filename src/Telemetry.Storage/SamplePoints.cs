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
/// <c>status</c> and, when known, <c>fleet</c> and <c>zone</c>; fields <c>measured_*</c> and
/// <c>threshold_*</c> for every finite value of the alert, <c>revision</c> (integer) and
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
        var builder = new StringBuilder(640);
        AppendSample(new LineBuilder(builder), vin, sample);
        return builder.ToString();
    }

    /// <summary>The lines of <paramref name="samples"/> of vehicle <paramref name="vin"/>, in order.</summary>
    public static string[] ToLines(SeriesKey vin, IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var lines = new string[samples.Count];
        var builder = new StringBuilder(640);
        var line = new LineBuilder(builder);
        for (var i = 0; i < samples.Count; i++)
        {
            builder.Clear();
            AppendSample(line, vin, samples[i]);
            lines[i] = builder.ToString();
        }

        return lines;
    }

    /// <summary>
    /// Appends the lines of <paramref name="samples"/> to <paramref name="builder"/>, separated by
    /// <c>\n</c> (no trailing one): the payload of one journal record without a string per line.
    /// </summary>
    internal static void AppendLines(StringBuilder builder, SeriesKey vin, IReadOnlyList<Sample> samples)
    {
        var line = new LineBuilder(builder);
        for (var i = 0; i < samples.Count; i++)
        {
            var mark = builder.Length;
            if (mark > 0)
                builder.Append('\n');
            var start = builder.Length;
            AppendSample(line, vin, samples[i]);
            if (builder.Length == start)
                builder.Length = mark; // a sample without any value has no line
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
            .Tag("rule", alert.RuleId)
            .Tag("severity", SeverityTag(alert.Severity))
            .Tag("status", StatusTag(alert.Status))
            .Tag("vin", alert.Vin)
            .Tag("zone", alert.Zone);
        foreach (var (name, value) in alert.Measured)
            line.Field(MeasuredPrefix + name, value);
        foreach (var (name, value) in alert.Thresholds)
            line.Field(ThresholdPrefix + name, value);
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

    private static void AppendSample(LineBuilder line, SeriesKey series, in Sample sample)
    {
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        // The VIN first: recovery after a crash reads it from the start of each line.
        line.Begin(SampleMeasurement).Tag("vin", series.Vin);
        if (!string.IsNullOrEmpty(series.Fleet))
            line.Tag("fleet", series.Fleet);
        if (!string.IsNullOrEmpty(series.Region))
            line.Tag("region", series.Region);
        foreach (var field in SampleFields.All)
            line.Field(field.Name, field.Get(sample));
        line.Field(PositionValidField, sample.PositionValid)
            .Field(PositionStatusField, (long)sample.PositionStatus);
        if (sample.Signature != SignatureCheck.NotSigned)
            line.Field(SignatureField, (long)sample.Signature);
        line.End(LineProtocol.ToUnixSeconds(sample.TimeUtc));
    }
}
