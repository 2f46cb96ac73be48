namespace Telemetry.Silo;

/// <summary>Creates the host builder with the project's command-line switches.</summary>
public static class TelemetryHost
{
    /// <summary>Short command-line switches and the settings they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--simulate"] = "Telemetry:Simulation:Trucks",
        ["--format"] = "Telemetry:Simulation:Format",
        ["--influx"] = "Telemetry:TimeSeries:InfluxUrl",
        ["--broker"] = "Telemetry:Mqtt:Mode",
    };

    /// <summary>
    /// A web application builder reading appsettings.json, <c>Telemetry__...</c> environment
    /// variables and the command line (with <see cref="Switches"/>).
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args, string? contentRoot = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = contentRoot ?? AppContext.BaseDirectory,
        });
        builder.Configuration.AddCommandLine(args, Switches.ToDictionary());
        return builder;
    }
}
