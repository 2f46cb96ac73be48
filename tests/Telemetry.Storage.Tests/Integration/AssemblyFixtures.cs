using Telemetry.Testing;

// One VictoriaMetrics server for every test of this assembly; tests keep apart by VIN.
[assembly: AssemblyFixture(typeof(VictoriaMetricsFixture))]
