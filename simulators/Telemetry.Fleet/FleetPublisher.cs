using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Abstractions;
using Telemetry.Simulation;

namespace Telemetry.Fleet;

/// <summary>Counts of what a fleet has published.</summary>
public sealed record class FleetProgress(long Frames, long Samples, long Failures, DateTime SimulatedUtc);

/// <summary>
/// Runs a fleet of deterministic truck models and publishes their frames over MQTT at QoS 1
/// to <c>{prefix}/{vin}/{format}</c>: first the history as re-issued frames, then live frames
/// paced by the clock.
/// </summary>
public sealed class FleetPublisher : IAsyncDisposable
{
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly IMqttClient _client;
    private readonly Dictionary<string, IMqttClient> _truckClients = new(StringComparer.Ordinal);
    private long _frames;
    private long _samples;
    private long _failures;

    /// <summary>Builds the fleet; trucks start <see cref="FleetOptions.HistoryMinutes"/> before now.</summary>
    public FleetPublisher(FleetOptions options, TimeProvider? time = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _client = new MqttClientFactory().CreateMqttClient();
        var now = TruncateToSecond(_time.GetUtcNow().UtcDateTime);
        var start = now - TimeSpan.FromMinutes(options.HistoryMinutes);
        var exceeding = options.Trucks == 0 ? 0 : Math.Max(1, (int)Math.Round(options.Trucks * options.ExceedanceShare));
        var cycles = new[] { DriveCycle.Highway, DriveCycle.Mixed, DriveCycle.Urban };
        Trucks = [.. Enumerable.Range(0, options.Trucks).Select(i =>
        {
            var index = options.FirstIndex + i;
            var vin = Vins.Make(index);
            var exceeds = i < exceeding;
            // A failing truck drives on the highway, where the SCR is hot and the validity gate
            // open; its NOx control fails two minutes in, so by the end of the history it has
            // been warm and over the limit long enough for R1 to hold.
            var cycle = exceeds ? DriveCycle.Highway : cycles[index % cycles.Length];
            var model = new TruckModel(vin, options.Seed + index, cycle, start);
            if (exceeds)
            {
                model.Inject(Fault.HighNox, start + TimeSpan.FromMinutes(2), DateTime.MaxValue);
            }
            return new SimulatedTruck(vin, model, exceeds);
        })];
        SimulatedUtc = start;
    }

    /// <summary>The trucks, in VIN order.</summary>
    public IReadOnlyList<SimulatedTruck> Trucks { get; }

    /// <summary>Sample time the fleet has reached.</summary>
    public DateTime SimulatedUtc { get; private set; }

    /// <summary>What has been published so far.</summary>
    public FleetProgress Progress => new(Interlocked.Read(ref _frames), Interlocked.Read(ref _samples), Interlocked.Read(ref _failures), SimulatedUtc);

    /// <summary>
    /// Connects to the broker: one connection for the whole fleet, or, given <paramref name="secrets"/> (each truck's
    /// secret by VIN), one connection per truck with its VIN as user name, as terminals connect to a broker that
    /// authenticates them.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? secrets = null)
    {
        if (secrets is null)
        {
            await ConnectOrThrowAsync(_client, ClientOptions($"telemetry-fleet-{_options.FirstIndex}-{Guid.NewGuid():N}", _options.Username, _options.Password), cancellationToken);
            return;
        }
        foreach (var truck in Trucks)
        {
            if (!secrets.TryGetValue(truck.Vin, out var secret))
            {
                throw new ArgumentException($"No secret for truck {truck.Vin}.", nameof(secrets));
            }
            var client = new MqttClientFactory().CreateMqttClient();
            _truckClients[truck.Vin] = client;
            await ConnectOrThrowAsync(client, ClientOptions(truck.Vin, truck.Vin, secret), cancellationToken);
        }
    }

    private static async Task ConnectOrThrowAsync(IMqttClient client, MqttClientOptions options, CancellationToken cancellationToken)
    {
        var result = await client.ConnectAsync(options, cancellationToken);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"The broker refused the connection of client '{options.ClientId}': {result.ResultCode}."
                + (options.Credentials is null ? " A silo's embedded broker takes a fleet on one connection from --username @operator with an admin API key as --password, or from anyone with Telemetry:Mqtt:AllowAnonymous=true." : ""));
        }
    }

    private MqttClientOptions ClientOptions(string clientId, string? user, string? secret)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Host, _options.Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(true);
        if (user is not null)
        {
            builder = builder.WithCredentials(user, secret);
        }
        return builder.Build();
    }

    /// <summary>
    /// Steps every truck up to now (or <paramref name="untilUtc"/>) and publishes it as re-issued
    /// frames of up to ten records each, as fast as the broker accepts them.
    /// </summary>
    public async Task PublishHistoryAsync(CancellationToken cancellationToken, DateTime? untilUtc = null)
    {
        // Whole seconds: a fraction left over would make the last step zero seconds long and loop forever.
        var until = TruncateToSecond(untilUtc ?? _time.GetUtcNow().UtcDateTime);
        while (SimulatedUtc < until)
        {
            var seconds = (int)Math.Min(10, (until - SimulatedUtc).TotalSeconds);
            for (var s = 0; s < seconds; s++)
            {
                StepAll();
            }
            await FlushAsync(FrameKind.Reissue, cancellationToken);
        }
    }

    /// <summary>
    /// Publishes live frames each second until cancelled: one frame a second in <c>gb17691</c>,
    /// ten records every ten seconds in <c>hj1239</c> and <c>json</c>.
    /// </summary>
    public async Task RunLiveAsync(CancellationToken cancellationToken)
    {
        var everySecond = _options.Format == FleetFormats.Gb17691;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = TruncateToSecond(_time.GetUtcNow().UtcDateTime);
                while (SimulatedUtc < now)
                {
                    StepAll();
                }
                if (everySecond || SimulatedUtc.Second % 10 == 0)
                {
                    await FlushAsync(FrameKind.RealTime, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Advances every truck, and the fleet's clock, by one second.</summary>
    private void StepAll()
    {
        foreach (var truck in Trucks)
        {
            truck.Step();
        }
        SimulatedUtc += TimeSpan.FromSeconds(1);
    }

    private async Task FlushAsync(FrameKind kind, CancellationToken cancellationToken)
    {
        var received = _time.GetUtcNow().UtcDateTime;
        foreach (var truck in Trucks)
        {
            while (truck.TakeBatch(kind, received) is { } batch)
            {
                await PublishAsync(truck, batch, cancellationToken);
            }
        }
    }

    private async Task PublishAsync(SimulatedTruck truck, TelemetryBatch batch, CancellationToken cancellationToken)
    {
        var payload = SimulatedTruck.Encode(batch, _options.Format);
        var message = new MqttApplicationMessageBuilder()
            .WithTopic($"{_options.TopicPrefix}/{truck.Vin}/{_options.Format}")
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var client = _truckClients.Count == 0 ? _client : _truckClients[truck.Vin];
        var result = await client.PublishAsync(message, cancellationToken);
        // With no subscriber yet the broker still accepted the frame (QoS 1, reason 'no matching subscribers').
        if (result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            Interlocked.Increment(ref _frames);
            Interlocked.Add(ref _samples, batch.Samples.Length);
        }
        else
        {
            Interlocked.Increment(ref _failures);
        }
    }

    private static DateTime TruncateToSecond(DateTime utc) =>
        new(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _truckClients.Values.Append(_client))
        {
            if (client.IsConnected)
            {
                await client.DisconnectAsync();
            }
            client.Dispose();
        }
    }
}
