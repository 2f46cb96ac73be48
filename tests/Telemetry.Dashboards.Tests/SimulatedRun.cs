using System.Text;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Simulation;
using Telemetry.Storage;
using Telemetry.Testing;

namespace Telemetry.Dashboards.Tests;

/// <summary>
/// One real influxd 1.x holding what the silo would have written for a 45-minute simulated run ending now:
/// four trucks in two fleets and two regions and one the registry does not know, driven through the detection engine (one with NOx control
/// failing until the end, one with its DPF removed until the end, one whose NOx fault ended, two clean),
/// their samples and every episode change as the silo's line protocol (<see cref="SamplePoints"/>), and the
/// pipeline counters of that run every 10 s as <see cref="PipelinePoints"/> lines.
/// </summary>
public sealed class SimulatedRun : IAsyncLifetime
{
    public const string Database = "hdv";
    public const string Host = "silo-a:5080";

    private InfluxDb1Server? _influx;

    public InfluxDb1Server Influx => _influx ?? throw new InvalidOperationException("Not started.");

    /// <summary>The trucks, in the order above, with their fleet and region.</summary>
    public List<VehicleInfo> Vehicles { get; } = [];

    /// <summary>Every episode change the run produced.</summary>
    public List<AlertChange> Changes { get; } = [];

    public DateTime StartUtc { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _influx = await InfluxDb1Server.StartAsync(Database, ct);
        var now = DateTime.UtcNow;
        StartUtc = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc).AddMinutes(-45);
        var zones = ZoneIndex.FromGeoJson(ScenarioSuite.JinanZoneGeoJson);
        (string Fleet, string Region, Fault Fault, double From, double To)[] trucks =
        [
            ("fleet-north", "370100", Fault.HighNox, 5, 45),
            ("fleet-north", "370200", Fault.DpfRemoved, 5, 45),
            ("fleet-south", "370100", Fault.HighNox, 2, 15),
            ("fleet-south", "370200", Fault.None, 0, 0),
            ("", "", Fault.None, 0, 0), // not in the registry: no fleet or region tag
        ];

        var lines = new List<string>();
        var frames = new List<(DateTime ReceivedUtc, int Accepted, int Duplicates)>();
        for (var i = 0; i < trucks.Length; i++)
        {
            var truck = trucks[i];
            var scenario = new Scenario
            {
                Name = $"dashboards-{i}",
                Cycle = i % 2 == 0 ? DriveCycle.Highway : DriveCycle.Mixed,
                DurationMinutes = 45,
                StartUtc = StartUtc,
                Faults = truck.Fault == Fault.None ? [] : [new InjectedFault(truck.Fault, truck.From, truck.To)],
            };
            var plan = ScenarioSuite.Plan(scenario, 4100 + i, new ScenarioSuiteOptions());
            var vehicle = plan.Vehicle with { Fleet = NullIfEmpty(truck.Fleet), Region = NullIfEmpty(truck.Region) };
            Vehicles.Add(vehicle);
            var series = SeriesKey.For(plan.Vin, vehicle);
            var detector = new VehicleDetector(plan.Vin, new DetectionOptions(), vehicle, zones);
            var changes = new List<AlertChange>();
            var accepted = new List<Sample>();
            // The terminal is still driving at the end of the run: stop before its logout, which would close every episode.
            foreach (var step in plan.Steps)
            {
                if (step is DeliverStep { Batch.Kind: FrameKind.Logout })
                    break;
                switch (step)
                {
                    case DeliverStep { Batch: var batch }:
                        detector.OnBatch(batch, changes, accepted);
                        if (accepted.Count > 0)
                        {
                            lines.AddRange(SamplePoints.ToLines(series, accepted));
                            frames.Add((batch.ReceivedUtc, accepted.Count, batch.Samples.Length - accepted.Count));
                        }
                        accepted.Clear();
                        break;
                    case ClockStep clock:
                        detector.OnClock(clock.NowUtc, changes);
                        break;
                }
            }
            Changes.AddRange(changes);
            lines.AddRange(changes.Select(c => SamplePoints.ToLine(c.Alert)));
        }
        lines.AddRange(PipelineLines(frames));

        for (var i = 0; i < lines.Count; i += 5000)
        {
            await _influx.WriteLineProtocolAsync(string.Join('\n', lines.Skip(i).Take(5000)), "s", ct);
        }
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    /// <summary>What the silo's pipeline writer would have written during the run, from the run's own frames and episodes.</summary>
    private IEnumerable<string> PipelineLines(List<(DateTime ReceivedUtc, int Accepted, int Duplicates)> frames)
    {
        frames.Sort((a, b) => a.ReceivedUtc.CompareTo(b.ReceivedUtc));
        var opened = Changes.Where(c => c.Kind == AlertChangeKind.Opened).Select(c => c.Alert.LastHeldUtc).Order().ToList();
        var closed = Changes.Where(c => c.Kind == AlertChangeKind.Closed).Select(c => c.Alert.EndUtc ?? c.Alert.LastHeldUtc).Order().ToList();
        var end = StartUtc.AddMinutes(45);
        long received = 0, accepted = 0;
        var f = 0;
        for (var t = StartUtc.AddSeconds(10); t <= end; t = t.AddSeconds(10))
        {
            var before = f;
            while (f < frames.Count && frames[f].ReceivedUtc <= t)
            {
                received++;
                accepted += frames[f].Accepted;
                f++;
            }
            var pending = f - before;
            var open = opened.Count(o => o <= t) - closed.Count(c => c <= t);
            var values = new Dictionary<string, double>
            {
                ["received"] = received + 1,
                ["decoded"] = received,
                ["rejected"] = 1,
                ["failed"] = 0,
                ["samples_accepted"] = accepted,
                ["samples_deduplicated"] = 0,
                ["samples_late"] = 0,
                ["alerts_opened"] = opened.Count(o => o <= t),
                ["alerts_closed"] = closed.Count(c => c <= t),
                ["open_episodes"] = open,
                ["vehicles_online"] = Vehicles.Count,
                ["grain_activations"] = Vehicles.Count,
                ["alert_latency_ms_mean"] = 40,
                ["alert_latency_ms_max"] = 120,
                ["journal_bytes"] = 4096 + 600 * received,
                ["shipper_lag_records"] = pending,
                ["shipper_lag_seconds"] = pending > 0 ? 0.05 : 0,
                ["shipped_lines"] = accepted,
                ["points_written"] = accepted,
                ["shipper_retries"] = 0,
                ["shipper_rejected"] = 0,
                ["write_failures"] = 0,
            };
            foreach (var line in PipelinePoints.ToLines(Host, values, new Dictionary<string, long> { ["badCheckCode"] = 1 }, t))
                yield return line;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_influx is not null)
            await _influx.DisposeAsync();
    }
}
