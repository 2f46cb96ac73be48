using Microsoft.Extensions.Options;
using Telemetry.Api;
using Telemetry.Ingest;
using Telemetry.Silo;
using Telemetry.Storage;

if (SiloCommandLine.Handle(ref args) is { } exitCode)
{
    return exitCode;                 // --help, or a malformed short switch
}

try
{
    var builder = TelemetryHost.CreateBuilder(args);
    builder.AddTelemetrySilo();          // Orleans (localhost or Redis clustering), detection, registry, zones
    builder.AddTimeSeriesSink();         // InfluxDB.Client writer, or local line-protocol files
    builder.AddAlertStore();             // alert episodes and cases: SQLite file or PostgreSQL
    builder.AddTelemetryApi();           // problem details, OpenAPI, API keys / JWT, roles
    builder.AddMqttIngest();             // embedded MQTTnet broker or external broker, decoder, dead letters
    builder.AddTelemetryObservability(); // OpenTelemetry meters, /metrics, console alerts and status
    builder.AddFleetSimulation();        // --simulate N: simulated trucks in this process
    var app = builder.Build();
    app.MapTelemetryApi();
    app.MapTelemetryMetrics();
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    // A bad setting stops the host with sentences that name it.
    await Console.Error.WriteLineAsync("Invalid configuration:");
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync($"  {failure}");
    }
    return 2;
}
catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    await Console.Error.WriteLineAsync($"Invalid configuration: {ex.Message}");
    return 2;
}
