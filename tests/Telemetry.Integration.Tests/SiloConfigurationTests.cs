using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Telemetry.Ingest;
using Telemetry.Silo;
using Telemetry.Storage;

namespace Telemetry.Integration.Tests;

/// <summary>A bad setting stops the host with a sentence that names the setting.</summary>
public sealed class SiloConfigurationTests
{
    [Theory]
    [InlineData("Telemetry:Mqtt:Port", "70000", "Telemetry:Mqtt:Port 70000 is not a TCP port (1-65535).")]
    [InlineData("Telemetry:Mqtt:TopicPrefix", "hdv/#", "Telemetry:Mqtt:TopicPrefix 'hdv/#' must be one topic level without '+', '#' or '/'.")]
    [InlineData("Telemetry:Mqtt:MaxInFlight", "0", "Telemetry:Mqtt:MaxInFlight 0 must be between 1 and 65535.")]
    [InlineData("Telemetry:Mqtt:SocketBufferBytes", "8", "Telemetry:Mqtt:SocketBufferBytes 8 must be between 4096 and 268435456.")]
    [InlineData("Telemetry:DeadLetters:FilePath", " ", "Telemetry:DeadLetters:FilePath must name a file.")]
    public async Task Start_WithABadIngestSetting_FailsNamingTheSetting(string key, string value, string sentence)
    {
        await using var app = Build($"--{key}={value}");
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains(sentence, error.Failures);
    }

    [Fact]
    public void Build_WithRedisClusteringButNoConnectionString_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Build("--Telemetry:Orleans:Clustering=Redis"));
        Assert.Contains("Telemetry:Orleans:RedisConnectionString is required when Telemetry:Orleans:Clustering is Redis.", error.Failures);
    }

    [Fact]
    public void Build_WithANegativeSimulatedFleet_FailsNamingTheSwitch()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Build("--simulate", "-5"));
        Assert.Contains("Telemetry:Simulation:Trucks -5 must be between 0 and 1000000 (command line: --simulate N).", error.Failures);
    }

    [Fact]
    public void Build_WithMoreAuthenticatedSimulatedTrucksThanConnections_FailsNamingTheWayOut()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Build("--simulate", "50000"));
        Assert.Contains(error.Failures, f => f.StartsWith("Telemetry:Simulation:Trucks 50000 is above 20000", StringComparison.Ordinal)
            && f.Contains("Telemetry:Mqtt:AllowAnonymous=true", StringComparison.Ordinal));
        using var anonymous = Build("--simulate", "50000", "--Telemetry:Mqtt:AllowAnonymous=true");
    }

    [Fact]
    public async Task SubscriberOptions_CarryTheSocketBufferSetting()
    {
        // The client library's own default (8 KiB) held delivery from mosquitto to a few dozen messages a second.
        Assert.Equal(4_194_304, ((MQTTnet.MqttClientTcpOptions)MqttIngestService.ClientOptions(new MqttIngestOptions()).ChannelOptions).BufferSize);

        await using var app = Build("--Telemetry:Mqtt:Mode=External", "--Telemetry:Mqtt:SocketBufferBytes=65536");
        var options = app.Services.GetRequiredService<IOptions<MqttIngestOptions>>().Value;
        var tcp = (MQTTnet.MqttClientTcpOptions)MqttIngestService.ClientOptions(options).ChannelOptions;
        Assert.Equal(65_536, tcp.BufferSize);
    }

    private static WebApplication Build(params string[] args)
    {
        var builder = TelemetryHost.CreateBuilder([.. args, "--Telemetry:Orleans:SiloPort=1", "--Telemetry:Orleans:GatewayPort=2"]);
        builder.AddTelemetrySilo();
        builder.AddTimeSeriesSink();
        builder.AddAlertStore();
        builder.AddMqttIngest();
        builder.AddFleetSimulation();
        return builder.Build();
    }
}
