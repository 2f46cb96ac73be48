using MQTTnet;
using MQTTnet.Protocol;

namespace Telemetry.Integration.Tests;

/// <summary>A plain MQTT client that publishes raw payloads at QoS 1, as a terminal would.</summary>
public sealed class TestPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public static async Task<TestPublisher> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var publisher = new TestPublisher();
        var options = new MqttClientOptionsBuilder().WithTcpServer(host, port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build();
        await publisher._client.ConnectAsync(options, cancellationToken);
        return publisher;
    }

    public async Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        var result = await _client.PublishAsync(message, cancellationToken);
        Assert.True(result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers,
            $"publishing to {topic} failed: {result.ReasonCode}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }
        _client.Dispose();
    }
}
