extern alias cli;

using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Protocol;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Devices can only speak for themselves on the embedded broker: a terminal connects with its VIN and secret, may
/// publish only under its own VIN, never retained, and may subscribe to nothing; each refusal and each limit is
/// counted by reason. One hook per test, against the real silo and its broker.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DeviceAccessTests
{
    private const string VinA = "LDEVACCESS0000001";
    private const string VinB = "LDEVACCESS0000002";
    private static readonly TimeSpan Turn = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connect_Anonymous_IsRefusedAsNotAuthorizedAndCounted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);

        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(silo, "anonymous-terminal", null, null), ct);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
        Assert.False(client.IsConnected);
        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:anonymous"));
        Assert.Equal(0, silo.Ingest.BrokerTotal("connected:anonymous"));
    }

    [Fact]
    public async Task Connect_WrongSecretOrUnknownVin_IsRefusedAsBadCredentials_AndNoSecretIsLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new CapturedLog();
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null,
            new Dictionary<string, string> { ["Logging:LogLevel:Telemetry"] = "Debug" },
            services => services.AddSingleton<ILoggerProvider>(log));
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        var wrong = secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A');

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(silo, VinA, wrong, ct));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(silo, VinB, secret, ct));
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(silo, VinA, secret, ct));

        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:badSecret"));
        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:unknownDevice"));
        Assert.Equal(1, silo.Ingest.BrokerTotal("connected:device"));
        var metrics = await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        Assert.Matches("telemetry_ingest_broker_connections_refused_total\\{[^}]*reason=\"badSecret\"[^}]*\\} [1-9]", metrics);

        Assert.Contains(log.Messages, m => m.Contains("badSecret", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Messages, m => m.Contains(secret, StringComparison.Ordinal) || m.Contains(wrong, StringComparison.Ordinal));
        Assert.DoesNotContain(secret, metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_AddListRevoke_OnTheSilosDatabase_GovernWhoConnects()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var database = Path.Combine(silo.DataDirectory, "telemetry.db");

        var (exit, secret, told) = Cli("devices", "add", VinA, "--database", database);
        Assert.Equal(0, exit);
        secret = secret.Trim();
        Assert.Contains(VinA, told, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, told, StringComparison.Ordinal);
        Assert.Equal(1, Cli("devices", "add", VinA, "--database", database).Exit);
        Assert.Equal(1, Cli("devices", "add", "NOT-A-VIN", "--database", database).Exit);
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(silo, VinA, secret, ct));

        var listed = Cli("devices", "list", "--database", database).Stdout;
        Assert.StartsWith($"{VinA}\tactive\tcreated ", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);

        Assert.Equal(0, Cli("devices", "revoke", VinA, "--database", database).Exit);
        Assert.Equal(1, Cli("devices", "revoke", VinA, "--database", database).Exit);
        Assert.Contains("\trevoked ", Cli("devices", "list", "--database", database).Stdout, StringComparison.Ordinal);
        Assert.Equal(MqttClientConnectResultCode.Banned, await ConnectResultAsync(silo, VinA, secret, ct));
    }

    [Fact]
    public async Task Revoke_ClosesTheOpenConnection_AndLaterConnectionsAreRefusedAsBanned()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var devices = silo.Services.GetRequiredService<DeviceCredentialStore>();
        var (_, secret) = await devices.AddAsync(VinA, cancellationToken: ct);
        using var connected = await ConnectAsync(silo, VinA, secret, ct);

        Assert.True(await devices.RevokeAsync(VinA, ct));

        // The open connection is closed at the broker's next look for revocations; a new one is refused.
        await Eventually.WaitAsync(() => !connected.IsConnected, EmbeddedBroker.RevocationCheckPeriod * 3,
            "the revoked device's open connection should be closed", ct);
        Assert.Equal(1, silo.Ingest.BrokerTotal("revokedWhileConnected"));
        Assert.Equal(MqttClientConnectResultCode.Banned, await ConnectResultAsync(silo, VinA, secret, ct));
        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:revoked"));
        // Added again: a new secret works, the old one does not.
        var (_, renewed) = await devices.AddAsync(VinA, cancellationToken: ct);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(silo, VinA, secret, ct));
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(silo, VinA, renewed, ct));
    }

    [Fact]
    public async Task Publish_UnderAnotherVin_IsRefusedCountedAndActivatesNoGrain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        using var device = await ConnectAsync(silo, VinA, secret, ct);
        var t0 = RecentSecond();

        // A well-formed frame of VIN B on VIN B's topic: only the connection's identity gives it away.
        var spoof = await PublishAsync(device, $"hdv/{VinB}/gb17691", Frame(VinB, t0), retain: false, ct);
        var outside = await PublishAsync(device, $"fleet/{VinA}/gb17691", Frame(VinA, t0), retain: false, ct);
        var own = await PublishAsync(device, $"hdv/{VinA}/gb17691", Frame(VinA, t0.AddSeconds(1)), retain: false, ct);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, spoof.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, outside.ReasonCode);
        Assert.True(Accepted(own), own.ReasonCode.ToString());
        Assert.Equal(1, silo.Ingest.BrokerTotal("foreignVin"));
        Assert.Equal(1, silo.Ingest.BrokerTotal("outsidePrefix"));
        var vehicles = silo.Services.GetRequiredService<VehicleIndex>();
        Assert.True(vehicles.IsKnown(VinA));
        Assert.False(vehicles.IsKnown(VinB));
        Assert.Equal((1L, 1L, 0L), silo.Ingest.Totals);
        var management = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var active = await management.GetDetailedGrainStatistics(null, null, ct);
        Assert.DoesNotContain(active, g => g.GrainId.Key.ToString() == VinB);
        Assert.Contains(active, g => g.GrainId.Key.ToString() == VinA);
    }

    [Fact]
    public async Task Subscribe_AnyFilter_IsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        using var device = await ConnectAsync(silo, VinA, secret, ct);

        var result = await device.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("hdv/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter($"hdv/{VinA}/gb17691", MqttQualityOfServiceLevel.AtMostOnce)
            .Build(), ct);

        Assert.All(result.Items, item => Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, item.ResultCode));
        Assert.Equal(2, silo.Ingest.BrokerTotal("subscribe"));
    }

    [Fact]
    public async Task Publish_Retained_IsRefused_AndTheConnAckSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        using var device = new MqttClientFactory().CreateMqttClient();
        var connected = await device.ConnectAsync(Options(silo, VinA, VinA, secret), ct);
        Assert.False(connected.RetainAvailable);
        Assert.Equal((uint)silo.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MqttIngestOptions>>().Value.MaxPacketBytes, connected.MaximumPacketSize);

        var retained = await PublishAsync(device, $"hdv/{VinA}/gb17691", Frame(VinA, RecentSecond()), retain: true, ct);

        Assert.Equal(MqttClientPublishReasonCode.ImplementationSpecificError, retained.ReasonCode);
        Assert.Equal(1, silo.Ingest.BrokerTotal("retained"));
        Assert.Equal(0, silo.Ingest.Totals.Received);
        Assert.False(silo.Services.GetRequiredService<VehicleIndex>().IsKnown(VinA));
    }

    [Fact]
    public async Task Packet_AnnouncedLargerThanTheLimit_EndsTheConnectionBeforeItsBodyIsSent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);

        // A CONNECT that announces 256 MB, from a client that never authenticated: MQTTnet's own listener would
        // allocate the body and wait for it.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", silo.MqttPort, ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(new byte[] { 0x10, 0xFF, 0xFF, 0xFF, 0x7F }, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Turn);
        var read = await ReadUntilClosedAsync(stream, timeout.Token);

        Assert.Equal(0, read);
        Assert.Equal(1, silo.Ingest.BrokerTotal("packetTooLarge"));
        Assert.Equal(0, silo.Ingest.BrokerTotal("connected:device") + silo.Ingest.BrokerTotal("connected:anonymous"));
    }

    [Fact]
    public async Task Publish_LargerThanThePacketLimit_ClosesTheConnection_WhileAPayloadJustOverMaxPayloadIsDeadLettered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:MaxPayloadBytes"] = "4096",
        });
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        using var device = await ConnectAsync(silo, VinA, secret, ct);

        var over = await PublishAsync(device, $"hdv/{VinA}/gb17691", new byte[5000], retain: false, ct);
        Assert.True(Accepted(over), over.ReasonCode.ToString());
        Assert.Equal(1, silo.Ingest.Totals.Rejected);

        await Assert.ThrowsAnyAsync<Exception>(() => PublishAsync(device, $"hdv/{VinA}/gb17691", new byte[200_000], retain: false, ct));
        await Eventually.WaitAsync(() => !device.IsConnected, Turn, "the broker should close the connection", ct);
        Assert.Equal(1, silo.Ingest.BrokerTotal("packetTooLarge"));
        Assert.Equal(1, silo.Ingest.Totals.Received);
    }

    [Fact]
    public async Task SecondConnectionOfAVin_ClosesTheFirst_AndNoOtherDeviceTakesItsClientId()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var (_, secret) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinA, cancellationToken: ct);
        using var first = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.Success, (await first.ConnectAsync(Options(silo, "terminal-boot-1", VinA, secret), ct)).ResultCode);

        using var second = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.Success, (await second.ConnectAsync(Options(silo, "terminal-boot-2", VinA, secret), ct)).ResultCode);

        await Eventually.WaitAsync(() => !first.IsConnected, Turn, "the VIN's earlier connection should be closed", ct);
        Assert.True(second.IsConnected);
        Assert.Equal(1, silo.Ingest.BrokerTotal("sessionReplaced"));
        var own = await PublishAsync(second, $"hdv/{VinA}/gb17691", Frame(VinA, RecentSecond()), retain: false, ct);
        Assert.True(Accepted(own), own.ReasonCode.ToString());

        // Another device cannot take VIN A's session over by using its client id.
        var (_, secretB) = await silo.Services.GetRequiredService<DeviceCredentialStore>().AddAsync(VinB, cancellationToken: ct);
        using var intruder = new MqttClientFactory().CreateMqttClient();
        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, (await intruder.ConnectAsync(Options(silo, "terminal-boot-2", VinB, secretB), ct)).ResultCode);
        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:clientIdTaken"));
        Assert.True(second.IsConnected);
    }

    [Fact]
    public async Task AllowAnonymous_AcceptsClientsWithoutCredentials_ButTheFrameVinMustStillBeTheTopicVin()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:AllowAnonymous"] = "true",
        });
        using var client = await ConnectAsync(silo, null, null, ct);
        var t0 = RecentSecond();

        var spoof = await PublishAsync(client, $"hdv/{VinA}/gb17691", Frame(VinB, t0), retain: false, ct);
        var own = await PublishAsync(client, $"hdv/{VinB}/gb17691", Frame(VinB, t0.AddSeconds(1)), retain: false, ct);

        Assert.True(Accepted(spoof), spoof.ReasonCode.ToString()); // acknowledged: dead-lettered, not stored
        Assert.True(Accepted(own), own.ReasonCode.ToString());
        Assert.Equal(1, silo.Ingest.BrokerTotal("connected:anonymous"));
        Assert.Equal((2L, 1L, 1L), silo.Ingest.Totals);
        var vehicles = silo.Services.GetRequiredService<VehicleIndex>();
        Assert.False(vehicles.IsKnown(VinA));
        Assert.True(vehicles.IsKnown(VinB));
        var letter = Assert.Single(File.ReadAllLines(Path.Combine(silo.DataDirectory, "dead-letters.jsonl")));
        using (var json = System.Text.Json.JsonDocument.Parse(letter))
        {
            Assert.Equal("vinMismatch", json.RootElement.GetProperty("reason").GetString());
        }

        // Credentials, when given, are still checked.
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(silo, VinA, "guess", ct));
    }

    [Fact]
    public async Task ConnectionsBeyondMaxConnections_AreClosedAndCounted_AndTheOthersKeepPublishing()
    {
        // Every connection holds a file descriptor: past the limit the broker closes new ones instead of letting
        // terminals take the files the journal, the databases and the API need.
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:AllowAnonymous"] = "true",
            ["Telemetry:Mqtt:MaxConnections"] = "2",
        });
        using var first = await ConnectAsync(silo, null, null, ct);
        using var second = await ConnectAsync(silo, null, null, ct);
        using (var third = new MqttClientFactory().CreateMqttClient())
        {
            await Assert.ThrowsAnyAsync<Exception>(() => third.ConnectAsync(Options(silo, "terminal-third", null, null), ct));
            Assert.False(third.IsConnected);
        }
        Assert.Equal(1, silo.Ingest.BrokerTotal("connection:tooManyConnections"));
        var t0 = RecentSecond();
        Assert.True(Accepted(await PublishAsync(first, $"hdv/{VinA}/gb17691", Frame(VinA, t0), retain: false, ct)));
        Assert.True(Accepted(await PublishAsync(second, $"hdv/{VinB}/gb17691", Frame(VinB, t0), retain: false, ct)));

        // A connection that ends frees its place.
        await first.DisconnectAsync(cancellationToken: ct);
        using var fourth = await Eventually.WaitForAsync(async () =>
        {
            var client = new MqttClientFactory().CreateMqttClient();
            try
            {
                await client.ConnectAsync(Options(silo, $"terminal-{Guid.NewGuid():N}", null, null), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
            }
            if (!client.IsConnected)
                client.Dispose();
            return client;
        }, c => c.IsConnected, TimeSpan.FromSeconds(30), "a new connection once one of the two ended", c => c.IsConnected.ToString(), ct);
        Assert.True(Accepted(await PublishAsync(fourth, $"hdv/{VinA}/gb17691", Frame(VinA, t0.AddSeconds(1)), retain: false, ct)));
        var metrics = await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        Assert.Matches("telemetry_ingest_broker_connections_refused_total\\{[^}]*reason=\"tooManyConnections\"[^}]*\\} [1-9]", metrics);
    }

    [Fact]
    public void MaxConnections_FromTheOpenFileLimit_KeepsFilesForTheRestOfTheSilo()
    {
        var dir = Directory.CreateTempSubdirectory("telemetry-limits-").FullName;
        var limits = Path.Combine(dir, "limits");
        try
        {
            File.WriteAllText(limits, """
                Limit                     Soft Limit           Hard Limit           Units
                Max processes             94000                94000                processes
                Max open files            20000                65536                files
                """);
            Assert.Equal(20_000 - MqttIngestOptions.ReservedFileDescriptors, new MqttIngestOptions().EffectiveMaxConnections(limits));
            Assert.Equal(500, new MqttIngestOptions { MaxConnections = 500 }.EffectiveMaxConnections(limits));
            File.WriteAllText(limits, "Max open files            unlimited            unlimited            files\n");
            Assert.Equal(1_000_000, new MqttIngestOptions().EffectiveMaxConnections(limits));
            File.WriteAllText(limits, "Max open files            1024                 1024                 files\n");
            Assert.Equal(64, new MqttIngestOptions().EffectiveMaxConnections(limits));
            Assert.Equal(1_000_000, new MqttIngestOptions().EffectiveMaxConnections(Path.Combine(dir, "absent")));
            Assert.Contains(new MqttIngestOptions { MaxConnections = -1 }.Validate(), e => e.Contains("MaxConnections", StringComparison.Ordinal));
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Simulate_OnTheEmbeddedBroker_ProvisionsItsTrucksWhoseFramesAreStored()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Simulation:Trucks"] = "3",
            ["Telemetry:Simulation:HistoryMinutes"] = "2",
        });

        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded >= 3 * 12, TimeSpan.FromSeconds(60), "the simulated trucks' history should be stored", ct);
        Assert.Equal(3, silo.Ingest.BrokerTotal("connected:device"));
        Assert.Equal(0, silo.Ingest.BrokerTotal("connected:anonymous"));
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
        var devices = await silo.Services.GetRequiredService<DeviceCredentialStore>().ListAsync(ct);
        Assert.Equal(3, devices.Count(d => d.RevokedUtc is null));
        var vehicles = silo.Services.GetRequiredService<VehicleIndex>();
        Assert.All(devices, d => Assert.True(vehicles.IsKnown(d.Vin)));
    }

    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args)
    {
        using var stdout = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var exit = cli::Telemetry.Cli.CliApp.Run(args, Stream.Null, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static MqttClientOptions Options(SiloUnderTest silo, string clientId, string? user, string? password)
    {
        var builder = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", silo.MqttPort).WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder = builder.WithCredentials(user, password);
        }
        return builder.Build();
    }

    private static async Task<MqttClientConnectResultCode> ConnectResultAsync(SiloUnderTest silo, string user, string password, CancellationToken ct)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(silo, $"terminal-{Guid.NewGuid():N}", user, password), ct);
        if (client.IsConnected)
        {
            await client.DisconnectAsync(cancellationToken: ct);
        }
        return result.ResultCode;
    }

    private static async Task<IMqttClient> ConnectAsync(SiloUnderTest silo, string? user, string? password, CancellationToken ct)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(silo, $"terminal-{Guid.NewGuid():N}", user, password), ct);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    /// <summary>A PUBACK that accepts (the embedded broker forwards nothing, so it may say "no matching subscribers").</summary>
    private static bool Accepted(MqttClientPublishResult result) =>
        result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers;

    private static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, byte[] payload, bool retain, CancellationToken ct) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);

    private static async Task<int> ReadUntilClosedAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[64];
        try
        {
            return await stream.ReadAsync(buffer, ct);
        }
        catch (IOException)
        {
            return 0; // reset: closed as well
        }
    }

    internal static DateTime RecentSecond()
    {
        var t = DateTime.UtcNow.AddMinutes(-5);
        return new DateTime(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    [Fact]
    public async Task Operator_WithAnAdminKey_PublishesForAnyVin_AndOtherKeysAreRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var adminKey = (await File.ReadAllTextAsync(silo.AdminKeyFile, ct)).Trim();
        var (_, fleetKey) = await silo.Services.GetRequiredService<ApiKeyStore>().CreateAsync("north", ApiRoles.Fleet, ["north"], ct);
        var t = RecentSecond();

        // As the CLI's replay and the simulator's run connect: one connection, many VINs.
        await using (var operatorClient = await TestPublisher.ConnectAsync("127.0.0.1", silo.MqttPort, BrokerAccess.OperatorUser, adminKey, ct))
        {
            await operatorClient.PublishAsync($"hdv/{VinA}/gb17691", Frame(VinA, t), ct);
            await operatorClient.PublishAsync($"hdv/{VinB}/gb17691", Frame(VinB, t), ct);
        }
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 2, Turn, "both VINs' frames from the operator are stored", ct);

        // As the load generator connects: its own MQTT 3.1.1 CONNECT with the credentials.
        await using (await Telemetry.Fleet.Load.MqttPipelinedConnection.ConnectAsync("127.0.0.1", silo.MqttPort, "operator-load", 1, ct, BrokerAccess.OperatorUser, adminKey))
        {
        }
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await Telemetry.Fleet.Load.MqttPipelinedConnection.ConnectAsync("127.0.0.1", silo.MqttPort, "operator-fleet-key", 1, ct, BrokerAccess.OperatorUser, fleetKey));
        Assert.Contains("bad user name or password", refused.Message, StringComparison.Ordinal);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(silo, BrokerAccess.OperatorUser, adminKey + "x", ct));
        Assert.Equal(2, silo.Ingest.BrokerTotal("connection:badOperatorKey"));
        Assert.Equal(2, silo.Ingest.BrokerTotal("connected:operator"));
    }

    internal static byte[] Frame(string vin, DateTime timeUtc)
    {
        var sample = Sample.Empty(timeUtc) with
        {
            SpeedKmh = 40,
            EngineSpeedRpm = 1200,
            CoolantTempC = 80,
            OdometerKm = 1234.5,
            PositionStatus = 0,
            Longitude = 117.0,
            Latitude = 36.65,
        };
        var batch = new TelemetryBatch(vin, FrameKind.RealTime, timeUtc, 1, [sample], ImmutableArray<ObdSnapshot>.Empty, timeUtc);
        return FrameEncoder.Encode(batch, TerminalProfile.Gb17691);
    }

    /// <summary>Every log message of the silo, formatted.</summary>
    private sealed class CapturedLog : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public IReadOnlyCollection<string> Messages => _messages;

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLog log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                log._messages.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));
        }
    }
}
