using Telemetry.Simulation;

namespace Telemetry.Fleet.Load;

/// <summary>The vehicles of a load run and their ground truth, built deterministically from the options' seed.</summary>
public sealed class LoadFleet
{
    /// <summary>
    /// Builds the fleet for a run whose clock starts at <paramref name="runStartUtc"/> (a whole second):
    /// live samples begin after the re-issue window, history (when a vehicle has it) ends just before.
    /// </summary>
    public LoadFleet(LoadOptions options, DateTime runStartUtc)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cycles = new[] { DriveCycle.Highway, DriveCycle.Mixed, DriveCycle.Urban };
        var r = options.RecordsPerFrame;
        var faulty = options.FaultyVehicles;
        var window = options.HistorySeconds;
        var vehicles = new LoadVehicle[options.Vehicles];
        var faults = new List<InjectedFault>();
        for (var i = 0; i < options.Vehicles; i++)
        {
            var vin = Vins.Make(i, options.VinPrefix);
            // Faulty vehicles are spread over the fleet (and so over the connections).
            var isFaulty = faulty > 0 && i % Math.Max(1, options.Vehicles / faulty) == 0 && faults.Count < faulty;
            var phase = (double)i / options.Vehicles * r;
            var liveStart = runStartUtc.AddSeconds(window + Math.Floor(phase));
            var historySeconds = isFaulty || options.HistoryForAll ? options.HistoryMinutes * 60 : 0;
            var modelStart = liveStart.AddSeconds(-historySeconds - 1);
            // A failing truck drives on the highway, where the SCR is hot and the validity gate open;
            // its NOx control fails two minutes in (as in the fleet publisher).
            var model = new TruckModel(vin, options.Seed + i, isFaulty ? DriveCycle.Highway : cycles[i % cycles.Length], modelStart);
            InjectedFault? fault = null;
            if (isFaulty)
            {
                var from = modelStart.AddMinutes(2);
                model.Inject(Fault.HighNox, from, DateTime.MaxValue);
                fault = new InjectedFault(vin, nameof(Fault.HighNox), "R1", from);
                faults.Add(fault);
            }
            var (parkAt, parkSeconds) = isFaulty ? (-1L, 0) : ParkSchedule(options, i);
            var topic = $"{options.TopicPrefix}/{vin}/{options.Format}";
            vehicles[i] = new LoadVehicle(i, vin, topic, model, fault, historySeconds, r, phase, window, options.Duration.TotalSeconds, liveStart,
                parkAt, parkSeconds);
        }
        Vehicles = vehicles;
        Faults = faults;
        ByVin = vehicles.ToDictionary(v => v.Vin, StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether vehicle <paramref name="index"/> parks and when: the live frame at which its ignition goes off and
    /// for how many seconds; (-1, 0) when it does not. Picked from the seed, so a run is repeatable. The stop
    /// begins at least two minutes into the live schedule and the truck drives again for at least two minutes.
    /// </summary>
    internal static (long AtFrame, int Seconds) ParkSchedule(LoadOptions options, int index)
    {
        if (options.ParkedShare <= 0)
            return (-1, 0);
        var random = new Random(unchecked((options.Seed * 7919) + (index * 104729) + 17));
        if (random.NextDouble() >= options.ParkedShare)
            return (-1, 0);
        var r = options.RecordsPerFrame;
        var parkFrames = (options.ParkedMinutes * 60 + r - 1) / r;
        var earliest = (120 + LoadVehicle.StopLeadSeconds) / r;
        var latest = (long)(options.Duration.TotalSeconds / r) - parkFrames - (120 / r);
        if (latest < earliest)
            return (-1, 0);
        return (earliest + (long)(random.NextDouble() * (latest - earliest + 1)), parkFrames * r);
    }

    /// <summary>Every vehicle, in index order.</summary>
    public IReadOnlyList<LoadVehicle> Vehicles { get; }

    /// <summary>The injected faults (ground truth).</summary>
    public IReadOnlyList<InjectedFault> Faults { get; }

    /// <summary>Vehicles by VIN.</summary>
    public IReadOnlyDictionary<string, LoadVehicle> ByVin { get; }
}
