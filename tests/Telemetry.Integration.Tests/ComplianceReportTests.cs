using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Simulation;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Compliance reports against a simulated run whose true values are known: two trucks of one fleet drive for 70
/// minutes over an hour boundary through a real mosquitto into the real silo, one of them with lost samples, a gap
/// re-issued newest first, frames sent twice and a lit malfunction lamp. The report's figures must equal what the
/// test adds up from the samples it sent, with the formulas written out here (not the silo's code), on SQLite and
/// on PostgreSQL.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ComplianceReportTests
{
    private const string Fleet = "north";
    private const string Region = "370100";
    private const double ReferenceTorqueNm = 2200;
    private const int Seconds = 70 * 60;
    private const int GapStart = 1500;   // 100 s that arrive last, re-issued newest first
    private const int GapLength = 100;
    private const int MilFrom = 1200;    // the OBD record that lights the lamp

    [Fact]
    public async Task Reports_OnSqlite_MatchTheSimulatedTruth()
    {
        await RunAsync(new Dictionary<string, string>());
    }

    [Fact]
    public async Task Reports_OnPostgres_MatchTheSimulatedTruth()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var postgres = await PostgresServer.StartAsync(ct);
        var connection = await postgres.CreateDatabaseAsync(ct);
        await RunAsync(new Dictionary<string, string>
        {
            ["Telemetry:Alerts:Store"] = "Postgres",
            ["Telemetry:Alerts:ConnectionString"] = connection,
        });
    }

    private static async Task RunAsync(Dictionary<string, string> settings)
    {
        var ct = TestContext.Current.CancellationToken;
        var start = DateTime.UtcNow.AddSeconds(-Seconds - 120);
        start = new DateTime(start.Ticks - (start.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        var a = new Truck(Vins.Make(7101, "LRPT"), 7101, start, lamp: true);
        var b = new Truck(Vins.Make(7102, "LRPT"), 7102, start, lamp: false);
        var south = Vins.Make(7103, "LRPT");

        var registry = Path.Combine(Directory.CreateTempSubdirectory("telemetry-registry-").FullName, "registry.json");
        await File.WriteAllTextAsync(registry, $$"""
            [{"vin":"{{a.Vin}}","fleet":"{{Fleet}}","region":"{{Region}}","referenceTorqueNm":{{ReferenceTorqueNm}}},
             {"vin":"{{b.Vin}}","fleet":"{{Fleet}}","region":"{{Region}}","referenceTorqueNm":{{ReferenceTorqueNm}}},
             {"vin":"{{south}}","fleet":"south","region":"{{Region}}","referenceTorqueNm":{{ReferenceTorqueNm}}}]
            """, ct);
        settings["Telemetry:ReferenceData:RegistryPath"] = registry;
        // Save (and so store the hourly totals) at every sweep, and evaluate a re-issued backlog soon after it stops coming.
        settings["Telemetry:Vehicles:PersistInterval"] = "00:00:01";
        settings["Telemetry:Vehicles:ClockPeriod"] = "00:00:01";
        settings["Telemetry:Detection:Dedup:BackfillIdleSeconds"] = "2";

        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);
        await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);

        var frames = a.Frames().Concat(b.Frames()).ToList();
        foreach (var (topic, payload) in frames)
            await terminal.PublishAsync(topic, payload, ct);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded >= frames.Count, TimeSpan.FromSeconds(60),
            $"the silo should decode all {frames.Count} frames", ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);

        var from = Hour(start);
        var until = Hour(start.AddSeconds(Seconds + 3600));
        var period = $"from={Iso(from)}&until={Iso(until)}";
        var expectedSamples = a.Sent.Count + b.Sent.Count;
        var fleet = await Eventually.WaitForAsync(
            () => GetJsonAsync(silo, $"/api/reports/fleets/{Fleet}?{period}"),
            r => r.GetProperty("totals").GetProperty("samples").GetInt64() == expectedSamples,
            TimeSpan.FromSeconds(90), $"the fleet report should count all {expectedSamples} samples", r => r.ToString(), ct);

        Assert.Equal(Iso(from), fleet.GetProperty("fromUtc").GetString());
        Assert.Equal(Iso(until), fleet.GetProperty("untilUtc").GetString());
        var generated = fleet.GetProperty("generatedUtc").GetDateTime().ToUniversalTime();
        var periodMinutes = ((until < generated ? until : generated) - from).TotalMinutes;
        var rows = fleet.GetProperty("vehicles").EnumerateArray().ToList();
        Assert.Equal(new[] { a.Vin, b.Vin }.Order(StringComparer.Ordinal), rows.Select(r => r.GetProperty("vin").GetString()!).Order(StringComparer.Ordinal));

        // The episodes the report read: the same before and after it (an episode may still close while the test runs).
        IReadOnlyList<Alert> alerts = [];
        for (var attempt = 0; attempt < 5; attempt++)
        {
            alerts = await silo.GetAlertsAsync("?limit=1000");
            fleet = await GetJsonAsync(silo, $"/api/reports/fleets/{Fleet}?{period}");
            if (Same(alerts, await silo.GetAlertsAsync("?limit=1000")))
                break;
        }
        generated = fleet.GetProperty("generatedUtc").GetDateTime().ToUniversalTime();
        periodMinutes = ((until < generated ? until : generated) - from).TotalMinutes;
        rows = fleet.GetProperty("vehicles").EnumerateArray().ToList();
        var truths = new[] { a, b }.ToDictionary(t => t.Vin, t => Truth.Of(t, periodMinutes, alerts.Where(x => x.Vin == t.Vin), from, until));
        foreach (var (vin, truth) in truths)
            truth.AssertMatches(rows.Single(r => r.GetProperty("vin").GetString() == vin), vin);
        truths[a.Vin].Plus(truths[b.Vin]).AssertMatches(fleet.GetProperty("totals"), "fleet");
        var single = await GetJsonAsync(silo, $"/api/reports/vehicles/{b.Vin}?{period}");
        Assert.Equal(rows.Single(r => r.GetProperty("vin").GetString() == b.Vin).GetProperty("noxG").GetDouble(),
            single.GetProperty("vehicle").GetProperty("noxG").GetDouble());
        Assert.Equal(truths[b.Vin].Samples, single.GetProperty("vehicle").GetProperty("samples").GetInt64());
        Assert.Equal(2, fleet.GetProperty("totals").GetProperty("vehicles").GetInt32());

        // The truck that lost samples is less complete than the other (both start and end within a minute, so neither
        // is quite 100 %); the lamp was lit on one only.
        var rowA = rows.Single(r => r.GetProperty("vin").GetString() == a.Vin);
        var rowB = rows.Single(r => r.GetProperty("vin").GetString() == b.Vin);
        Assert.True(rowA.GetProperty("completenessPercent").GetDouble() < rowB.GetProperty("completenessPercent").GetDouble() - 0.5, fleet.ToString());
        Assert.True(rowA.GetProperty("milOnDistanceKm").GetDouble() > 10);
        Assert.Equal(0, rowB.GetProperty("milOnDistanceKm").GetDouble());
        // R7 (MIL-on driving) held for most of the lamp's time.
        Assert.True(rowA.GetProperty("exceedanceMinutes").TryGetProperty("R7", out var r7) && r7.GetDouble() > 30, rowA.ToString());

        // CSV: a header, a line per vehicle and the total line, with the same figures.
        using var csvResponse = await silo.Http.GetAsync(new Uri($"/api/reports/fleets/{Fleet}?{period}&format=csv", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, csvResponse.StatusCode);
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType?.MediaType);
        var lines = (await csvResponse.Content.ReadAsStringAsync(ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r').Split(',')).ToList();
        Assert.Equal(4, lines.Count);
        var header = lines[0].ToList();
        var total = lines.Single(l => l[0] == "total");
        Assert.Equal(fleet.GetProperty("totals").GetProperty("noxG").GetDouble(), double.Parse(total[header.IndexOf("noxG")], CultureInfo.InvariantCulture));
        Assert.Equal(expectedSamples, long.Parse(total[header.IndexOf("samples")], CultureInfo.InvariantCulture));
        Assert.Contains("exceedanceMinutes:R7", header);

        // Storing the totals is counted (at least the two vehicles' two hours each).
        // The history above arrived hours late and fast, which the silo takes for a backlog: the last hour is
        // stored once its frames' delay no longer counts (about 15 s after the last frame), so wait for it.
        static string? StoredLine(string metrics) => metrics.Split('\n').FirstOrDefault(l => l.StartsWith("telemetry_reports_hours_total{", StringComparison.Ordinal)
            && l.Contains("outcome=\"stored\"", StringComparison.Ordinal));
        static double Stored(string? line) => line is null ? 0 : double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
        var metrics = await Eventually.WaitForAsync(() => silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct),
            m => Stored(StoredLine(m)) >= 4, TimeSpan.FromSeconds(60), "the hourly totals are stored", m => StoredLine(m) ?? "no stored line", ct);
        var storedLine = StoredLine(metrics);
        Assert.NotNull(storedLine);
        var stored = Stored(storedLine);
        Assert.True(stored >= 4, storedLine);

        // Bad requests are problem details that name the parameter.
        using var bad = await silo.Http.GetAsync(new Uri($"/api/reports/vehicles/{a.Vin}?from=yesterday", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("'from'", await bad.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        using var unknown = await silo.Http.GetAsync(new Uri($"/api/reports/vehicles/{a.Vin}?colour=red", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("'colour'", await unknown.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        using var badFormat = await silo.Http.GetAsync(new Uri($"/api/reports/fleets/{Fleet}?format=xml", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
        using var noFleet = await silo.Http.GetAsync(new Uri("/api/reports/fleets/nobody", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.NotFound, noFleet.StatusCode);
    }

    private static bool Same(IReadOnlyList<Alert> x, IReadOnlyList<Alert> y) =>
        x.Count == y.Count && x.Zip(y).All(p => p.First.Id == p.Second.Id && p.First.Status == p.Second.Status
            && p.First.LastHeldUtc == p.Second.LastHeldUtc && p.First.EndUtc == p.Second.EndUtc);

    private static async Task<JsonElement> GetJsonAsync(SiloUnderTest silo, string path)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await silo.Http.GetAsync(new Uri(path, UriKind.Relative), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static DateTime Hour(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);

    private static string Iso(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>One simulated truck: its samples, what of them it sends and in which frames, and the runs the rules evaluate.</summary>
    private sealed class Truck
    {
        private readonly Sample[] _samples;
        private readonly ObdSnapshot? _lamp;

        public Truck(string vin, int seed, DateTime start, bool lamp)
        {
            Vin = vin;
            var model = new TruckModel(vin, seed, DriveCycle.Highway, start, new TruckModelOptions { ObdIntervalSeconds = 1_000_000 });
            if (lamp)
                model.Inject(Fault.MilOnDriving, start.AddSeconds(MilFrom - 10), start.AddDays(1));
            _samples = new Sample[Seconds];
            for (var i = 0; i < Seconds; i++)
            {
                _samples[i] = model.Step();
                if (lamp && i == MilFrom)
                    _lamp = model.CurrentObd() with { TimeUtc = _samples[i].TimeUtc };
            }
            Lossy = lamp;
        }

        public string Vin { get; }

        /// <summary>Loses samples (never sent), sends a gap late and newest first, and sends frames twice.</summary>
        public bool Lossy { get; }

        /// <summary>Every distinct sample sent, once.</summary>
        public List<Sample> Sent { get; } = [];

        /// <summary>The runs the rules evaluate each in time order: the live timeline, and the late gap on its own.</summary>
        public List<List<Sample>> Runs { get; } = [];

        /// <summary>When the OBD record lit the lamp, or null.</summary>
        public DateTime? LampUtc => _lamp?.TimeUtc;

        private bool Lost(int i) => Lossy && i % 97 == 50;

        private bool InGap(int i) => Lossy && i is >= GapStart and < GapStart + GapLength;

        public IEnumerable<(string Topic, byte[] Payload)> Frames()
        {
            var topic = $"hdv/{Vin}/hj1239";
            var live = new List<Sample>();
            var gap = new List<Sample>();
            var frames = new List<(string, byte[])>();
            var late = new List<(string, byte[])>();
            var again = new List<(string, byte[])>();
            for (var f = 0; f < Seconds / 10; f++)
            {
                var indices = Enumerable.Range(f * 10, 10).Where(i => !Lost(i)).ToList();
                var samples = indices.Select(i => _samples[i]).ToImmutableArray();
                ImmutableArray<ObdSnapshot> obd = _lamp is { } o && indices.Contains(MilFrom) ? [o] : [];
                // History sent after the fact is re-issued data (command 0x03), as a terminal sends its store.
                var payload = FrameEncoder.Encode(new TelemetryBatch(Vin, FrameKind.Reissue, samples[0].TimeUtc, (ushort)f, samples, obd, default), TerminalProfile.Hj1239);
                if (InGap(f * 10))
                {
                    late.Insert(0, (topic, payload));
                    gap.AddRange(samples);
                }
                else
                {
                    frames.Add((topic, payload));
                    live.AddRange(samples);
                }
                if (Lossy && f < 30)
                    again.Add((topic, payload));
            }
            Sent.AddRange(live.Concat(gap).OrderBy(s => s.TimeUtc));
            Runs.Add(live);
            if (gap.Count > 0)
                Runs.Add(gap);
            // The key goes off at the end: a terminal that logs out is not offline when it falls silent.
            var logout = FrameEncoder.Encode(new TelemetryBatch(Vin, FrameKind.Logout, _samples[^1].TimeUtc.AddSeconds(1), 9999, [], [], default), TerminalProfile.Hj1239);
            return [.. frames, .. late, .. again, (topic, logout)];
        }
    }

    /// <summary>The true figures, added up from the samples sent with the formulas of the domain, written out here.</summary>
    private sealed record class Truth(
        long Samples, long ReportingMinutes, long RunningSeconds, long GatedSeconds, double DistanceKm, double OdometerKm,
        double NoxG, double PairedNoxG, double PairedWorkKWh, double WorkKWh, double FuelL, double UreaL, double UreaFuelL,
        double MilOnKm, double PeriodMinutes, Dictionary<string, double> Exceedance)
    {
        public static Truth Of(Truck truck, double periodMinutes, IEnumerable<Alert> alerts, DateTime from, DateTime until)
        {
            var sent = truck.Sent;
            long running = 0;
            double distance = 0, nox = 0, pairedNox = 0, pairedWork = 0, work = 0, fuel = 0, urea = 0, ureaFuel = 0;
            foreach (var s in sent)
            {
                var rpmKnown = !double.IsNaN(s.EngineSpeedRpm);
                if (rpmKnown ? s.EngineSpeedRpm >= 500 : s.SpeedKmh > 0)
                    running++;
                if (!double.IsNaN(s.SpeedKmh))
                    distance += s.SpeedKmh / 3600;
                if (!double.IsNaN(s.FuelFlowLph))
                    fuel += s.FuelFlowLph / 3600;
                var g = double.NaN;
                if (s.NoxDownstreamPpm > 0 && !double.IsNaN(s.IntakeAirFlowKgph) && !double.IsNaN(s.FuelFlowLph))
                {
                    // g/h = 0.001586 x ppm x exhaust kg/h, exhaust = air + fuel x 0.835 kg/L
                    g = 0.001586 * s.NoxDownstreamPpm * (s.IntakeAirFlowKgph + (s.FuelFlowLph * 0.835)) / 3600;
                    nox += g;
                }
                if (!double.IsNaN(s.EngineTorquePercent) && !double.IsNaN(s.EngineSpeedRpm))
                {
                    var net = s.EngineTorquePercent - (double.IsNaN(s.FrictionTorquePercent) ? 0 : s.FrictionTorquePercent);
                    var kw = net <= 0 ? 0 : net / 100 * ReferenceTorqueNm * s.EngineSpeedRpm * 2 * Math.PI / 60 / 1000;
                    work += kw / 3600;
                    if (!double.IsNaN(g))
                    {
                        pairedNox += g;
                        pairedWork += kw / 3600;
                    }
                }
                if (!double.IsNaN(s.UreaDosingMlph) && !double.IsNaN(s.FuelFlowLph))
                {
                    urea += s.UreaDosingMlph / 1000 / 3600;
                    ureaFuel += s.FuelFlowLph / 3600;
                }
            }
            var odometers = sent.Select(s => s.OdometerKm).Where(o => !double.IsNaN(o)).ToList();
            var minutes = sent.Select(s => s.TimeUtc.Ticks / TimeSpan.TicksPerMinute).Distinct().LongCount();
            var exceedance = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var a in alerts)
            {
                var end = a.Status == AlertStatus.Closed && a.EndUtc is { } e ? e : a.LastHeldUtc;
                var overlap = (Min(end, until) - Max(a.StartUtc, from)).TotalMinutes;
                if (overlap > 0)
                    exceedance[a.RuleId] = exceedance.GetValueOrDefault(a.RuleId) + overlap;
            }
            return new Truth(sent.Count, minutes, running, truck.Runs.Sum(Gated), distance, odometers.Max() - odometers.Min(), nox, pairedNox,
                pairedWork, work, fuel, urea, ureaFuel, LitKm(truck), periodMinutes, exceedance);
        }

        private static DateTime Min(DateTime x, DateTime y) => x < y ? x : y;

        private static DateTime Max(DateTime x, DateTime y) => x > y ? x : y;

        /// <summary>
        /// The emission gate (RULES.md): engine running, coolant >= 70 deg C, SCR inlet >= 250 deg C and 300 s since the
        /// engine started; a data gap over 120 s or the engine below 500 rpm ends a run. Each run of evaluation on its own.
        /// </summary>
        private static long Gated(List<Sample> run)
        {
            long gated = 0, start = 0, lastRunning = long.MinValue;
            var wasRunning = false;
            foreach (var s in run)
            {
                var second = s.TimeUtc.Ticks / TimeSpan.TicksPerSecond;
                var rpmKnown = !double.IsNaN(s.EngineSpeedRpm);
                var running = rpmKnown ? s.EngineSpeedRpm >= 500 : s.SpeedKmh > 0;
                if (running)
                {
                    if (!wasRunning || lastRunning == long.MinValue || second - lastRunning > 120)
                        start = second;
                    lastRunning = second;
                }
                wasRunning = running;
                if (rpmKnown && running && s.CoolantTempC >= 70 && s.ScrInletTempC >= 250 && second - start >= 300)
                    gated++;
            }
            return gated;
        }

        /// <summary>
        /// Distance on the live timeline after the record that lit the lamp (a record is judged after the sample of its own
        /// second). The late gap is evaluated on its own timeline, which has not seen that record: it adds nothing.
        /// </summary>
        private static double LitKm(Truck truck) => truck.LampUtc is { } lamp
            ? truck.Runs[0].Where(s => s.TimeUtc > lamp && s.SpeedKmh >= 0).Sum(s => s.SpeedKmh / 3600)
            : 0;

        /// <summary>The truth of two vehicles together: sums add, ratios are made again from the sums.</summary>
        public Truth Plus(Truth o)
        {
            var exceedance = new Dictionary<string, double>(Exceedance, StringComparer.Ordinal);
            foreach (var (rule, minutes) in o.Exceedance)
                exceedance[rule] = exceedance.GetValueOrDefault(rule) + minutes;
            return new Truth(Samples + o.Samples, ReportingMinutes + o.ReportingMinutes, RunningSeconds + o.RunningSeconds, GatedSeconds + o.GatedSeconds,
                DistanceKm + o.DistanceKm, OdometerKm + o.OdometerKm, NoxG + o.NoxG, PairedNoxG + o.PairedNoxG, PairedWorkKWh + o.PairedWorkKWh,
                WorkKWh + o.WorkKWh, FuelL + o.FuelL, UreaL + o.UreaL, UreaFuelL + o.UreaFuelL, MilOnKm + o.MilOnKm, PeriodMinutes + o.PeriodMinutes, exceedance);
        }

        public void AssertMatches(JsonElement row, string who)
        {
            void Near(string field, double expected, double tolerance)
            {
                var actual = row.GetProperty(field).GetDouble();
                Assert.True(Math.Abs(actual - expected) <= tolerance, $"{who} {field}: report {actual}, truth {expected} (tolerance {tolerance})");
            }

            Assert.Equal(Samples, row.GetProperty("samples").GetInt64());
            Assert.Equal(ReportingMinutes, row.GetProperty("reportingMinutes").GetInt64());
            Assert.Equal(ReportingMinutes * 60, row.GetProperty("expectedSamples").GetInt64());
            Near("completenessPercent", Samples * 100.0 / (ReportingMinutes * 60), 0.006);
            Near("onlineRatePercent", ReportingMinutes * 100.0 / PeriodMinutes, 0.01);
            Near("engineHours", RunningSeconds / 3600.0, 0.0001);
            Near("gatedHours", GatedSeconds / 3600.0, 0.0001);
            Near("distanceKm", DistanceKm, 0.001 + (DistanceKm * 1e-9));
            Near("odometerDistanceKm", OdometerKm, 0.051 * Math.Max(1, row.GetProperty("vehicles").GetInt32()));
            Near("noxG", NoxG, 0.001 + (NoxG * 1e-9));
            Near("noxGPerKm", NoxG / DistanceKm, 0.0001);
            Near("noxMgPerKWh", PairedNoxG * 1000 / PairedWorkKWh, 0.1);
            Near("workKWh", WorkKWh, 0.001 + (WorkKWh * 1e-9));
            Near("fuelL", FuelL, 0.001);
            Near("ureaL", UreaL, 0.0001);
            Near("ureaToFuelPercent", UreaL * 100 / UreaFuelL, 0.001);
            Near("milOnDistanceKm", MilOnKm, 0.001 + (MilOnKm * 1e-9));
            var minutes = row.GetProperty("exceedanceMinutes");
            Assert.Equal(Exceedance.Keys.Order(StringComparer.Ordinal), minutes.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            foreach (var (rule, expected) in Exceedance)
                Assert.True(Math.Abs(minutes.GetProperty(rule).GetDouble() - expected) <= 0.01, $"{who} {rule}: report {minutes.GetProperty(rule)}, truth {expected}");
        }
    }
}
