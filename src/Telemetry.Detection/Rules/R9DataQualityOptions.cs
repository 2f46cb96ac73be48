namespace Telemetry.Detection.Rules;

/// <summary>R9: data quality.</summary>
public sealed class DataQualityOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Expected frame cadence before the vehicle's own cadence is known, s.</summary>
    public double ExpectedCadenceSeconds { get; set; } = 10;
    /// <summary>Silence longer than this multiple of the cadence, while the engine was last running, is offline.</summary>
    public double OfflineCadenceFactor { get; set; } = 3;
    /// <summary>Silence shorter than this is never offline (keeps 1 Hz terminals from alerting on a network blip), s.</summary>
    public double OfflineMinSilenceSeconds { get; set; } = 30;
    /// <summary>Running seconds with an invalid position that raise the alert, s.</summary>
    public double PositionInvalidSeconds { get; set; } = 600;
    /// <summary>Implied speed between consecutive fixes above which the position jumped, km/h.</summary>
    public double MaxImpliedSpeedKmh { get; set; } = 150;
    /// <summary>Jumps shorter than this are GPS noise, km.</summary>
    public double MinJumpKm { get; set; } = 1;
    /// <summary>Difference between sample time and arrival time of real-time data above which the clock is skewed, s.</summary>
    public double MaxClockSkewSeconds { get; set; } = 60;
    /// <summary>Share of invalid fields (among those the terminal normally reports) above which data quality alerts.</summary>
    public double MaxInvalidFieldFraction { get; set; } = 0.2;
    /// <summary>Window for the invalid-field share, s.</summary>
    public double InvalidFieldWindowSeconds { get; set; } = 300;
    /// <summary>Check-code failures within the window that raise the alert.</summary>
    public int MinCheckCodeFailures { get; set; } = 3;
    /// <summary>Window for check-code failures, min.</summary>
    public double CheckCodeWindowMinutes { get; set; } = 10;
    /// <summary>Any terminal removal alarm (0x06) raises an alert.</summary>
    public bool RemovalAlarm { get; set; } = true;
}
