using System.Net.Sockets;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Integration;

/// <summary>The server fixtures of Telemetry.Testing that this project's tests do not otherwise use.</summary>
[Trait("Category", "Integration")]
public sealed class ServerFixtureIntegrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>MQTT 3.1.1 CONNECT with user name and password; returns the CONNACK return code.</summary>
    private static async Task<byte> ConnectAsync(MosquittoServer server, string? user = null, string? password = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, Ct);
        var stream = client.GetStream();
        var payload = new List<byte>();
        void AddString(string s)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(s);
            payload.Add((byte)(bytes.Length >> 8));
            payload.Add((byte)bytes.Length);
            payload.AddRange(bytes);
        }

        AddString("t1");
        byte flags = 0x02;
        if (user is not null)
        {
            flags |= 0x80;
            AddString(user);
        }

        if (password is not null)
        {
            flags |= 0x40;
            AddString(password);
        }

        byte[] header = [0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, flags, 0x00, 0x0A];
        byte[] packet = [0x10, (byte)(header.Length + payload.Count), .. header, .. payload];
        await stream.WriteAsync(packet, Ct);
        var connack = new byte[4];
        await stream.ReadExactlyAsync(connack, Ct);
        Assert.Equal(0x20, connack[0]);
        return connack[3];
    }

    [Fact]
    public async Task MosquittoServer_Anonymous_AcceptsAClientAndKeepsItsPortAcrossRestart()
    {
        await using var server = await MosquittoServer.StartAsync(Ct);
        var port = server.Port;
        Assert.Equal(0, await ConnectAsync(server));

        await server.StopAsync();
        await Assert.ThrowsAnyAsync<SocketException>(() => ConnectAsync(server));
        await server.RestartAsync(Ct);

        Assert.Equal(port, server.Port);
        Assert.Equal(0, await ConnectAsync(server));
    }

    [Fact]
    public async Task MosquittoServer_PasswordFile_AcceptsKnownUserAndRefusesOthers()
    {
        var options = new MosquittoOptions
        {
            AllowAnonymous = false,
            Users = new Dictionary<string, string> { ["LGDCHA1G8MA127733"] = "secret" },
            AclLines = ["pattern write hdv/%u/#"],
        };
        await using var server = await MosquittoServer.StartAsync(options, Ct);

        Assert.Equal(0, await ConnectAsync(server, "LGDCHA1G8MA127733", "secret"));
        Assert.NotEqual(0, await ConnectAsync(server, "LGDCHA1G8MA127733", "wrong"));
        Assert.NotEqual(0, await ConnectAsync(server));
    }

    [Fact]
    public async Task RedisServer_AppendOnly_KeepsDataAcrossRestart()
    {
        await using var server = await RedisServer.StartAsync(new RedisOptions { AppendOnly = true }, Ct);
        Assert.Equal("+OK", await server.CommandAsync("SET fixture-key kept", Ct));

        await server.RestartAsync(Ct);

        Assert.Equal("$4", await server.CommandAsync("GET fixture-key", Ct));
    }

    [Fact]
    public async Task RedisServer_Default_AnswersPingAndKeepsNothingOnDisk()
    {
        await using var server = await RedisServer.StartAsync(Ct);

        Assert.Equal("+PONG", await server.CommandAsync("PING", Ct));
        Assert.Equal("+OK", await server.CommandAsync("SET k v", Ct));
        Assert.Empty(Directory.GetFiles(server.Directory, "*.aof", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Servers_DisposeAsync_StopsTheProcessAndDeletesTheDirectory()
    {
        var server = await VictoriaMetricsServer.StartAsync(Ct);
        var directory = server.Directory;
        Assert.True(Directory.Exists(directory));

        await server.DisposeAsync();

        Assert.False(Directory.Exists(directory));
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", server.Port, Ct).AsTask());
    }

    [Fact]
    public void ServerBinary_Missing_SaysHowToInstallIt()
    {
        var error = Assert.Throws<ServerNotInstalledException>(() => ServerBinary.Locate("no-such-server-binary", "no-such-package"));

        Assert.Equal("no-such-server-binary is not installed: run `apt-get update && apt-get install -y no-such-package` " +
                     "(or `.ci/run`, which installs every server the tests need).", error.Message);
    }

    [Fact]
    public async Task Eventually_ConditionNeverHolds_FailsWithTheReason()
    {
        var error = await Assert.ThrowsAsync<EventuallyTimeoutException>(() =>
            Eventually.WaitAsync(() => false, TimeSpan.FromMilliseconds(100), "the moon is blue", Ct));

        Assert.StartsWith("Timed out after 0.1 s waiting until the moon is blue.", error.Message, StringComparison.Ordinal);
    }
}
