using System.Buffers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Grains;

namespace Telemetry.Ingest;

/// <summary>
/// Takes terminal messages from an external broker (mosquitto, EMQX) through a persistent MQTT 5
/// session, usually a shared subscription so that several silos split the load. The receive loop
/// never waits for a message to be processed: each goes to the <see cref="FramePipeline"/> at once
/// and is acknowledged (QoS 1) when it is durable or dead-lettered. At most
/// <see cref="MqttIngestOptions.MaxInFlight"/> messages are in process and at most as many more are read
/// ahead of them (<see cref="ReadAheadLimit"/>): the connection stops reading beyond that, so the back-pressure
/// reaches the broker through TCP even when it does not keep to the MQTT 5 receive maximum, and memory stays
/// bounded whatever the broker sends. An unacknowledged message is
/// sent again by the broker when the session resumes. In embedded mode the broker itself hands
/// messages to the pipeline (see <see cref="EmbeddedBroker"/>) and this service only reports ready.
/// </summary>
public sealed partial class MqttIngestService(
    IOptions<MqttIngestOptions> options,
    FramePipeline pipeline,
    EmbeddedBroker embedded,
    IngestMetrics metrics,
    TelemetryClock clock,
    TimeProvider time,
    ILogger<MqttIngestService> logger,
    IngestDelay ingestDelay) : BackgroundService
{
    private readonly MqttIngestOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _slots = new(options.Value.MaxInFlight, options.Value.MaxInFlight);
    private readonly ReadAheadLimit _readAhead = metrics.ObserveReadAhead(new ReadAheadLimit(options.Value.MaxInFlight, metrics.ReadPaused));

    /// <summary>True while terminal messages reach the pipeline: subscribed (External) or the broker started (Embedded).</summary>
    public bool IsSubscribed { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Mode == BrokerMode.Embedded)
        {
            while (!embedded.IsStarted)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, stoppingToken);
            }
            IsSubscribed = true;
            return;
        }

        var factory = new MqttClientFactory();
        using var client = factory.CreateMqttClient(factory.DefaultLogger, _readAhead.AdapterFactory());
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        await ConnectLoopAsync(client, stoppingToken);

        // Let messages in flight finish and be acknowledged before the session closes (bounded):
        // every slot free again means none is in process.
        var drainUntil = time.GetUtcNow() + _options.DrainTimeout;
        while (_slots.CurrentCount < _options.MaxInFlight && time.GetUtcNow() < drainUntil)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), time, CancellationToken.None);
        }
        await _stopping.CancelAsync();
        try
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.DisconnectFailed(logger, ex);
        }
    }

    public override void Dispose()
    {
        _stopping.Dispose();
        _slots.Dispose();
        base.Dispose();
    }

    /// <summary>The subscriber's MQTT client options for <paramref name="options"/>: MQTT 5, persistent session, receive maximum, socket buffers.</summary>
    public static MqttClientOptions ClientOptions(MqttIngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientId = string.IsNullOrWhiteSpace(options.ClientId) ? $"telemetry-ingest-{Environment.MachineName}" : options.ClientId;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)options.SessionExpiry.TotalSeconds)
            .WithReceiveMaximum((ushort)options.MaxInFlight)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30));
        if (!string.IsNullOrEmpty(options.Username))
        {
            builder = builder.WithCredentials(options.Username, options.Password);
        }
        if (options.UseTls)
        {
            builder = builder.WithTlsOptions(tls =>
            {
                tls.UseTls().WithTargetHost(options.Host);
                if (!string.IsNullOrWhiteSpace(options.CaCertificatePath))
                {
                    // Trust the named authority for the broker's certificate, instead of the system's roots.
                    var authority = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(options.CaCertificatePath);
                    tls.WithTrustChain(new System.Security.Cryptography.X509Certificates.X509Certificate2Collection(authority));
                }
            });
        }
        var clientOptions = builder.Build();
        // The library's default socket buffers (8 KiB) cap the TCP receive window, and with it delivery.
        ((MqttClientTcpOptions)clientOptions.ChannelOptions).BufferSize = options.SocketBufferBytes;
        return clientOptions;
    }

    private async Task ConnectLoopAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        var clientOptions = ClientOptions(_options);
        var delay = TimeSpan.FromMilliseconds(200);

        while (!stoppingToken.IsCancellationRequested)
        {
            if (!client.IsConnected)
            {
                IsSubscribed = false;
                // No frame can come while the broker is away: hold the vehicles' clocks (no one is silent).
                ingestDelay.Stalled(clock.UtcNow);
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
        _readAhead.Taken();
        var message = e.ApplicationMessage;
        metrics.Delivered(message.Dup);
        var length = message.Payload.Length;
        // The client reuses its receive buffer once this handler returns: keep a copy (capped) for the pipeline.
        var kept = (int)Math.Min(length, _options.MaxPayloadBytes);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(kept, 1));
        message.Payload.Slice(0, kept).CopyTo(buffer);
        // Returns at once unless MaxInFlight messages are already being processed: then the receive
        // loop waits for a free slot, and TCP flow control holds the broker back.
        await _slots.WaitAsync(CancellationToken.None);
        _ = HandleAsync(message.Topic, buffer, kept, length, clock.UtcNow, e);
    }

    private async Task HandleAsync(string topic, byte[] buffer, int kept, long length, DateTime receivedUtc, MqttApplicationMessageReceivedEventArgs e)
    {
        try
        {
            var outcome = await pipeline.ProcessAsync(topic, buffer.AsMemory(0, kept), length, receivedUtc, _stopping.Token);
            if (outcome != IngestOutcome.NotStored)
            {
                await e.AcknowledgeAsync(_stopping.Token);
                metrics.Acknowledged();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
        {
            Log.ProcessingFailed(logger, topic, ex);
        }
        catch (OperationCanceledException)
        {
            // Stopping: not acknowledged, the broker sends it again to the next session.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _slots.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Ingest subscribed to {Filter} on {Host}:{Port} (session resumed: {SessionPresent})")]
        public static partial void Subscribed(ILogger logger, string host, int port, string filter, bool sessionPresent);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Ingest cannot reach the MQTT broker at {Host}:{Port}; retrying in {Delay}")]
        public static partial void ConnectFailed(ILogger logger, string host, int port, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Processing a message on {Topic} failed; it stays unacknowledged")]
        public static partial void ProcessingFailed(ILogger logger, string topic, Exception exception);

        [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Disconnecting the ingest subscriber failed")]
        public static partial void DisconnectFailed(ILogger logger, Exception exception);
    }
}
