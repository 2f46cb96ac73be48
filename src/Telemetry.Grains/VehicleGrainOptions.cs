namespace Telemetry.Grains;

/// <summary>How vehicle grains keep time and state.</summary>
public sealed class VehicleGrainOptions
{
    public const string Section = "Telemetry:Vehicles";

    /// <summary>Name of the grain storage provider that keeps vehicle state.</summary>
    public const string StorageName = "vehicles";

    /// <summary>
    /// How often the silo-wide sweep advances the clock of vehicles that went silent while it matters
    /// (engine running, episode open), and saves the vehicle index.
    /// </summary>
    public TimeSpan ClockPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Register a durable reminder per vehicle (clustered storage): it wakes the grain on whichever
    /// silo holds it after a silo is lost. Set by the silo from its clustering mode.
    /// </summary>
    public bool UseReminders { get; set; }

    /// <summary>
    /// Period of the durable reminder that wakes a vehicle's grain after a silo restart, so a
    /// terminal that went silent while its engine ran is still found offline (R9).
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest time detector state may stay unsaved while data flows; episode changes are saved at once.</summary>
    public TimeSpan PersistInterval { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Save unsaved detector state when the silo shuts down. Off with in-memory grain storage,
    /// which is gone with the process and cannot be written while the silo stops.
    /// </summary>
    public bool SaveOnShutdown { get; set; } = true;

    /// <summary>A vehicle silent for this long, with no open episode, stops being woken by the sweep or the reminder.</summary>
    public TimeSpan IdleRetention { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (ClockPeriod < TimeSpan.FromSeconds(1))
        {
            yield return $"{Section}:ClockPeriod {ClockPeriod} must be at least one second.";
        }
        if (ReminderPeriod < TimeSpan.FromSeconds(1))
        {
            yield return $"{Section}:ReminderPeriod {ReminderPeriod} must be at least one second.";
        }
        if (PersistInterval < TimeSpan.Zero)
        {
            yield return $"{Section}:PersistInterval {PersistInterval} must not be negative.";
        }
        if (IdleRetention < ReminderPeriod)
        {
            yield return $"{Section}:IdleRetention {IdleRetention} must be at least {Section}:ReminderPeriod.";
        }
    }
}

/// <summary>What a vehicle grain persists.</summary>
[GenerateSerializer]
public sealed class VehicleGrainState
{
    /// <summary>The detector: dedup memory, open episodes, rule windows, offline facts.</summary>
    [Id(0)] public Detection.DetectorState? Detector { get; set; }

    /// <summary>True while the clock reminder is registered.</summary>
    [Id(1)] public bool ClockReminder { get; set; }

    [Id(2)] public long SamplesAccepted { get; set; }

    [Id(3)] public long DuplicatesDropped { get; set; }

    /// <summary>Batches of hourly totals saved and not yet known to be in the case database (see <see cref="Detection.HourTotalsOutbox"/>).</summary>
    [Id(4)] public List<Detection.PendingHourTotals>? PendingHours { get; set; }

    /// <summary>The number of the newest batch of hourly totals.</summary>
    [Id(5)] public long HoursBatch { get; set; }
}
