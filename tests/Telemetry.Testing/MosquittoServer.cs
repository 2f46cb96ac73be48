using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Telemetry.Testing;

/// <summary>How a <see cref="MosquittoServer"/> is configured beyond its loopback listener.</summary>
public sealed record class MosquittoOptions
{
    /// <summary>Lets clients connect without a user name (mosquitto 2.x refuses them unless told).</summary>
    public bool AllowAnonymous { get; init; } = true;

    /// <summary>Users and passwords written to a <c>password_file</c> with <c>mosquitto_passwd</c>; empty means no password file.</summary>
    public IReadOnlyDictionary<string, string> Users { get; init; } = new Dictionary<string, string>();

    /// <summary>Lines of an <c>acl_file</c>, such as <c>pattern write hdv/%u/#</c>; null means no ACL file.</summary>
    public IReadOnlyList<string>? AclLines { get; init; }

    /// <summary>Keeps sessions and retained messages across <see cref="MosquittoServer.RestartAsync"/> (in the server's directory).</summary>
    public bool Persistence { get; init; }

    /// <summary>Further <c>mosquitto.conf</c> lines, appended as given.</summary>
    public IReadOnlyList<string> ExtraConfigLines { get; init; } = [];
}

/// <summary>
/// A real mosquitto 2.0 broker on a free loopback port, with its configuration in a temporary
/// directory. Stop and restart keep the port, for broker-restart tests.
/// </summary>
public sealed class MosquittoServer : LoopbackServer
{
    private const string Executable = "mosquitto";
    private const string Package = "mosquitto";

    private readonly MosquittoOptions _options;
    private readonly string _configPath;

    private MosquittoServer(string binary, string directory, int port, MosquittoOptions options)
        : base(Executable, binary, directory)
    {
        _configPath = Path.Combine(directory, "mosquitto.conf");
        Port = port;
        _options = options;
    }

    /// <summary>Always 127.0.0.1.</summary>
    public string Host { get; } = "127.0.0.1";

    /// <summary>The MQTT TCP port.</summary>
    public int Port { get; }

    /// <summary>The temporary directory with the configuration (and persistence files, if enabled).</summary>
    public string Directory => ServerDirectory;

    /// <summary>The last lines the broker wrote.</summary>
    public string Output => ServerOutput;

    /// <summary>Starts a broker that allows anonymous clients.</summary>
    public static Task<MosquittoServer> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(new MosquittoOptions(), cancellationToken);

    /// <summary>Starts a broker configured by <paramref name="options"/>.</summary>
    /// <exception cref="ServerNotInstalledException">mosquitto is not installed.</exception>
    public static async Task<MosquittoServer> StartAsync(MosquittoOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return await StartServerAsync(
            Executable,
            Package,
            "mosquitto",
            (binary, directory) => new MosquittoServer(binary, directory, FreePort.Next(), options),
            cancellationToken);
    }

    /// <summary>Stops the broker (SIGTERM, then kill); the port and directory stay reserved for <see cref="RestartAsync"/>.</summary>
    public Task StopAsync() => StopServerAsync();

    /// <summary>Stops the broker if it runs and starts it again on the same port with the same configuration.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => RestartServerAsync(cancellationToken);

    protected override Task PrepareAsync(CancellationToken cancellationToken) =>
        WriteConfigAsync(_options, Directory, _configPath, Port, cancellationToken);

    protected override IEnumerable<string> BuildArguments() => ["-c", _configPath];

    /// <summary>An MQTT 3.1.1 CONNECT answered by any CONNACK means the broker serves clients.</summary>
    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(Host, Port, cancellationToken);
        var stream = client.GetStream();
        byte[] connect =
        [
            0x10, 0x11,                               // CONNECT, remaining length 17
            0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T',
            0x04,                                     // protocol level 3.1.1
            0x02,                                     // clean session
            0x00, 0x0A,                               // keep alive 10 s
            0x00, 0x05, (byte)'p', (byte)'r', (byte)'o', (byte)'b', (byte)'e',
        ];
        await stream.WriteAsync(connect, cancellationToken);
        var connack = new byte[4];
        await stream.ReadExactlyAsync(connack, cancellationToken);
        if (connack[0] != 0x20)
            return false;
        await stream.WriteAsync(new byte[] { 0xE0, 0x00 }, cancellationToken); // DISCONNECT
        return true;
    }

    private static async Task WriteConfigAsync(MosquittoOptions options, string directory, string configPath, int port, CancellationToken cancellationToken)
    {
        var config = new StringBuilder()
            .Line($"listener {port} 127.0.0.1")
            .Line($"allow_anonymous {(options.AllowAnonymous ? "true" : "false")}")
            // As the ingest README asks: mosquitto's default (1,000 queued per client) drops QoS 1
            // messages for a subscriber that is busy or reconnecting.
            .Line("max_queued_messages 0");
        if (options.Persistence)
            config.Line("persistence true").Line($"persistence_location {directory}/");
        else
            config.Line("persistence false");

        // Started as root, mosquitto drops to the "mosquitto" user, which cannot read this
        // private temporary directory: keep the current user instead.
        if (Environment.UserName == "root")
            config.Line("user root");

        if (options.Users.Count > 0)
        {
            var passwordFile = Path.Combine(directory, "passwd");
            await File.WriteAllTextAsync(passwordFile, "", cancellationToken);
            foreach (var (user, password) in options.Users)
                await RunPasswdAsync(passwordFile, user, password, cancellationToken);
            config.Line($"password_file {passwordFile}");
        }

        if (options.AclLines is not null)
        {
            var aclFile = Path.Combine(directory, "acl");
            await File.WriteAllLinesAsync(aclFile, options.AclLines, cancellationToken);
            config.Line($"acl_file {aclFile}");
        }

        foreach (var line in options.ExtraConfigLines)
            config.Line(line);
        await File.WriteAllTextAsync(configPath, config.ToString(), cancellationToken);
    }

    private static async Task RunPasswdAsync(string passwordFile, string user, string password, CancellationToken cancellationToken)
    {
        var binary = ServerBinary.Locate("mosquitto_passwd", Package);
        var startInfo = new ProcessStartInfo(binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-b", passwordFile, user, password })
            startInfo.ArgumentList.Add(argument);
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("mosquitto_passwd did not start.");
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"mosquitto_passwd failed for user '{user}' with code {process.ExitCode}: {await stderr}{await stdout}");
    }
}
