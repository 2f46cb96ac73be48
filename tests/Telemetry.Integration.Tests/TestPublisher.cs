using MQTTnet;
using MQTTnet.Protocol;

namespace Telemetry.Integration.Tests;

/// <summary>A plain MQTT client that publishes raw payloads at QoS 1, as a terminal would.</summary>
public sealed class TestPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public static Task<TestPublisher> ConnectAsync(string host, int port, CancellationToken cancellationToken) =>
        ConnectAsync(host, port, user: null, password: null, cancellationToken);

    /// <summary>Connects with a user name and password (a device: its VIN and secret); throws when the broker refuses.</summary>
    public static Task<TestPublisher> ConnectAsync(string host, int port, string? user, string? password, CancellationToken cancellationToken) =>
        ConnectAsync(host, port, user, password, trust: null, cancellationToken);

    /// <summary>
    /// Connects over TLS when <paramref name="trust"/> is given: the broker's certificate must chain to it (a
    /// self-signed certificate trusts itself); throws when the handshake or the broker refuses.
    /// </summary>
    public static async Task<TestPublisher> ConnectAsync(string host, int port, string? user, string? password,
        System.Security.Cryptography.X509Certificates.X509Certificate2? trust, CancellationToken cancellationToken)
    {
        var publisher = new TestPublisher();
        var builder = new MqttClientOptionsBuilder().WithTcpServer(host, port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder = builder.WithCredentials(user, password);
        }
        if (trust is not null)
        {
            builder = builder.WithTlsOptions(tls => tls.UseTls().WithTargetHost(host)
                .WithTrustChain(new System.Security.Cryptography.X509Certificates.X509Certificate2Collection(trust)));
        }
        await publisher._client.ConnectAsync(builder.Build(), cancellationToken);
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
