using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Protocol;

namespace Telemetry.Ingest;

/// <summary>
/// Subscribes to terminal topics, decodes each message and hands it to its vehicle grain.
/// A message is acknowledged (QoS 1) only after the grain has stored it, or after it was
/// rejected and dead-lettered; an unacknowledged message is redelivered by the broker.
/// Frames of one VIN go through one lane, so their order is kept.
/// </summary>
public sealed partial class MqttIngestService(
    IOptions<MqttIngestOptions> options,
    PayloadDecoder decoder,
    IGrainFactory grains,
    IDeadLetterSink deadLetters,
    IngestMetrics metrics,
    TelemetryClock clock,
    TimeProvider time,
    ILogger<MqttIngestService> logger) : BackgroundService
{
    private readonly MqttIngestOptions _options = options.Value;
    private Channel<Work>[] _lanes = [];

    /// <summary>True while the subscriber is connected and subscribed.</summary>
    public bool IsSubscribed { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _lanes = new Channel<Work>[_options.Lanes];
        var workers = new Task[_options.Lanes];
        for (var i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = Channel.CreateBounded<Work>(new BoundedChannelOptions(_options.LaneCapacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
            var lane = _lanes[i];
            workers[i] = Task.Run(() => RunLaneAsync(lane.Reader, stoppingToken), CancellationToken.None);
        }

        using var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        await ConnectLoopAsync(client, stoppingToken);

        try
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.DisconnectFailed(logger, ex);
        }
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }
        await Task.WhenAll(workers);
    }

    private async Task ConnectLoopAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        var clientId = string.IsNullOrWhiteSpace(_options.ClientId) ? $"telemetry-ingest-{Environment.MachineName}" : _options.ClientId;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Host, _options.Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)_options.SessionExpiry.TotalSeconds)
            .WithReceiveMaximum(ushort.MaxValue)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30));
        if (!string.IsNullOrEmpty(_options.Username))
        {
            builder = builder.WithCredentials(_options.Username, _options.Password);
        }
        var clientOptions = builder.Build();
        var delay = TimeSpan.FromMilliseconds(200);

        while (!stoppingToken.IsCancellationRequested)
        {
            if (!client.IsConnected)
            {
                IsSubscribed = false;
                try
                {
                    var connected = await client.ConnectAsync(clientOptions, stoppingToken);
                    var subscribe = new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(_options.SubscriptionFilter, MqttQualityOfServiceLevel.AtLeastOnce)
                        .Build();
                    var result = await client.SubscribeAsync(subscribe, stoppingToken);
                    var code = result.Items.First().ResultCode;
                    if (code > MqttClientSubscribeResultCode.GrantedQoS2)
                    {
                        throw new InvalidOperationException($"The broker refused the subscription to '{_options.SubscriptionFilter}': {code}.");
                    }
                    IsSubscribed = true;
                    delay = TimeSpan.FromMilliseconds(200);
                    Log.Subscribed(logger, _options.Host, _options.Port, _options.SubscriptionFilter, connected.IsSessionPresent);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Log.ConnectFailed(logger, _options.Host, _options.Port, delay, ex);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                }
            }
            try
            {
                await Task.Delay(client.IsConnected ? TimeSpan.FromSeconds(1) : delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        e.AutoAcknowledge = false;
        metrics.Received();
        var message = e.ApplicationMessage;
        var payload = message.Payload.Length <= _options.MaxPayloadBytes ? message.Payload.ToArray() : [];
        var work = new Work(message.Topic, payload, (int)Math.Min(message.Payload.Length, int.MaxValue), clock.UtcNow, Stopwatch.GetTimestamp(), e);
        var lane = (int)((uint)StringComparer.Ordinal.GetHashCode(LaneKey(message.Topic)) % (uint)_lanes.Length);
        await _lanes[lane].Writer.WriteAsync(work);
    }

    private string LaneKey(string topic) =>
        TopicRoute.TryParse(topic, _options.TopicPrefix, out var route) ? route.Vin : topic;

    private async Task RunLaneAsync(ChannelReader<Work> reader, CancellationToken stoppingToken)
    {
        await foreach (var work in reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await ProcessAsync(work, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Not acknowledged: the broker redelivers it to the next subscriber session.
            }
            catch (Exception ex)
            {
                metrics.Failed();
                Log.ProcessingFailed(logger, work.Topic, ex);
            }
        }
    }

    private async Task ProcessAsync(Work work, CancellationToken stoppingToken)
    {
        if (!TopicRoute.TryParse(work.Topic, _options.TopicPrefix, out var route))
        {
            await RejectAsync(work, "badTopic", $"Topic '{work.Topic}' is not {_options.TopicPrefix}/{{vin}}/{{format}}.", stoppingToken);
            return;
        }
        if (work.PayloadLength > _options.MaxPayloadBytes)
        {
            await RejectAsync(work, "tooLarge", $"Payload of {work.PayloadLength} bytes exceeds {_options.MaxPayloadBytes}.", stoppingToken);
            return;
        }
        if (!decoder.TryDecode(route.Format, route.Vin, work.Payload, work.ReceivedUtc, out var batch, out var rejection))
        {
            if (rejection.Reason == RejectReason.BadCheckCode && Vin.IsValid(route.Vin))
            {
                // The topic names the vehicle (devices may only publish as themselves): R9 counts these.
                await grains.GetGrain<IVehicleGrain>(route.Vin).ReportCheckCodeFailure(work.ReceivedUtc);
            }
            await RejectAsync(work, rejection.Code, rejection.Message, stoppingToken);
            return;
        }

        var grain = grains.GetGrain<IVehicleGrain>(batch.Vin);
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await grain.Ingest(batch);
                break;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Storing failed (time-series store down, silo shutting down...). The frame is kept
                // unacknowledged and retried; the lane waits, which back-pressures the broker.
                metrics.Retried();
                Log.DispatchRetry(logger, batch.Vin, delay, ex);
                await Task.Delay(delay, time, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
        await work.Event.AcknowledgeAsync(stoppingToken);
        metrics.Decoded(route.Format, Stopwatch.GetElapsedTime(work.StartTimestamp));
    }

    private async Task RejectAsync(Work work, string reason, string message, CancellationToken stoppingToken)
    {
        metrics.Rejected(reason);
        Log.Rejected(logger, work.Topic, reason, message);
        await deadLetters.WriteAsync(new DeadLetter(work.ReceivedUtc, work.Topic, reason, message, work.Payload), stoppingToken);
        await work.Event.AcknowledgeAsync(stoppingToken);
    }

    private sealed record class Work(string Topic, byte[] Payload, int PayloadLength, DateTime ReceivedUtc, long StartTimestamp, MqttApplicationMessageReceivedEventArgs Event);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Ingest subscribed to {Filter} on {Host}:{Port} (session resumed: {SessionPresent})")]
        public static partial void Subscribed(ILogger logger, string host, int port, string filter, bool sessionPresent);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Ingest cannot reach the MQTT broker at {Host}:{Port}; retrying in {Delay}")]
        public static partial void ConnectFailed(ILogger logger, string host, int port, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "Rejected message on {Topic}: {Reason}: {Message}")]
        public static partial void Rejected(ILogger logger, string topic, string reason, string message);

        [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Storing a frame of {Vin} failed; retrying in {Delay}")]
        public static partial void DispatchRetry(ILogger logger, string vin, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Processing a message on {Topic} failed; it stays unacknowledged")]
        public static partial void ProcessingFailed(ILogger logger, string topic, Exception exception);

        [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Disconnecting the ingest subscriber failed")]
        public static partial void DisconnectFailed(ILogger logger, Exception exception);
    }
}
