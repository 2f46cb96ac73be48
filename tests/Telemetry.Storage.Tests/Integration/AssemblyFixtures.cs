using Telemetry.Testing;

// One VictoriaMetrics server for every test of this assembly; tests keep apart by VIN.
[assembly: AssemblyFixture(typeof(VictoriaMetricsFixture))]

// One PostgreSQL server for the alert database tests; each test creates a database of its own.
[assembly: AssemblyFixture(typeof(PostgresFixture))]
