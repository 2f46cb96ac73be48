using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Grains;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Devices can only speak for themselves on an external mosquitto too: a real broker with the password file and the
/// ACL the README gives (read from the README itself), and the silo's subscriber authenticating with its settings.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MosquittoDeviceAclTests
{
    private const string VinA = "LDEVACL0000000001";
    private const string VinB = "LDEVACL0000000002";
    private static readonly TimeSpan Turn = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ReadmeAcl_DevicePublishesOnlyUnderItsOwnVin_AnonymousRefused_SiloSubscriberAuthenticates()
    {
        var ct = TestContext.Current.CancellationToken;
        var acl = ReadmeAcl();
        var subscriber = acl.Single(l => l.StartsWith("user ", StringComparison.Ordinal))["user ".Length..].Trim();
        var secrets = new Dictionary<string, string>
        {
            [VinA] = "secret-of-a-" + Guid.NewGuid().ToString("N"),
            [VinB] = "secret-of-b-" + Guid.NewGuid().ToString("N"),
            [subscriber] = "silo-" + Guid.NewGuid().ToString("N"),
        };
        await using var broker = await MosquittoServer.StartAsync(new MosquittoOptions { AllowAnonymous = false, Users = secrets, AclLines = acl }, ct);
        // Starting waits until the subscriber is subscribed: with anonymous clients refused, only its credentials get it there.
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Username"] = subscriber,
            ["Telemetry:Mqtt:Password"] = secrets[subscriber],
        });

        using var anonymous = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, (await anonymous.ConnectAsync(Options(broker, null, null), ct)).ResultCode);
        using var wrong = new MqttClientFactory().CreateMqttClient();
        // mosquitto 2.0 answers a wrong password with "not authorized" too.
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, (await wrong.ConnectAsync(Options(broker, VinA, secrets[VinB]), ct)).ResultCode);

        using var device = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.Success, (await device.ConnectAsync(Options(broker, VinA, secrets[VinA]), ct)).ResultCode);
        var t0 = DateTime.UtcNow.AddMinutes(-5);
        t0 = new DateTime(t0.Ticks - t0.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

        var own = await PublishAsync(device, $"hdv/{VinA}/gb17691", DeviceAccessTests.Frame(VinA, t0), ct);
        Assert.True(own.IsSuccess || own.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers, own.ReasonCode.ToString());
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 1, Turn, "the device's own frame should be stored", ct);

        // A well-formed frame of VIN B under VIN B's topic, from VIN A's connection: the broker keeps it.
        var spoof = await PublishAsync(device, $"hdv/{VinB}/gb17691", DeviceAccessTests.Frame(VinB, t0), ct);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, spoof.ReasonCode);
        // mosquitto 2.0 then closes the connection of an MQTT 5 client; the device connects again. A later frame of
        // its own arrives; the spoof, sent before it, never did.
        using var again = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.Success, (await again.ConnectAsync(Options(broker, VinA, secrets[VinA]), ct)).ResultCode);
        await PublishAsync(again, $"hdv/{VinA}/gb17691", DeviceAccessTests.Frame(VinA, t0.AddSeconds(1)), ct);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 2, Turn, "the device's second frame should be stored", ct);
        Assert.Equal((2L, 2L, 0L), silo.Ingest.Totals);
        var vehicles = silo.Services.GetRequiredService<VehicleIndex>();
        Assert.True(vehicles.IsKnown(VinA));
        Assert.False(vehicles.IsKnown(VinB));

        // A device reads nothing, not even its own topic.
        using var reader = new MqttClientFactory().CreateMqttClient();
        var received = 0;
        reader.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref received);
            return Task.CompletedTask;
        };
        Assert.Equal(MqttClientConnectResultCode.Success, (await reader.ConnectAsync(Options(broker, VinB, secrets[VinB]), ct)).ResultCode);
        // mosquitto 2.0 grants the subscription and then delivers nothing the ACL does not let it read.
        await reader.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("hdv/#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
        await PublishAsync(again, $"hdv/{VinA}/gb17691", DeviceAccessTests.Frame(VinA, t0.AddSeconds(2)), ct);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 3, Turn, "the device's third frame should be stored", ct);
        Assert.Equal(0, Volatile.Read(ref received));
    }

    /// <summary>The lines of the ACL block in the README's device credentials section.</summary>
    private static List<string> ReadmeAcl()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
        {
            directory = directory.Parent;
        }
        var readme = File.ReadAllText(Path.Combine(directory?.FullName ?? throw new InvalidOperationException("The repository root was not found."), "README.md"));
        var section = readme[readme.IndexOf("## Device credentials", StringComparison.Ordinal)..];
        var start = section.IndexOf("```acl", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README's device credentials section should hold an ```acl block");
        start = section.IndexOf('\n', start) + 1;
        var block = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        return [.. block.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    private static MqttClientOptions Options(MosquittoServer broker, string? user, string? password)
    {
        var builder = new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port)
            .WithClientId(string.Create(CultureInfo.InvariantCulture, $"acl-test-{Guid.NewGuid():N}"))
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder = builder.WithCredentials(user, password);
        }
        return builder.Build();
    }

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload, CancellationToken ct) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
}
