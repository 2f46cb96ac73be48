using System.Net.Sockets;
using System.Text;

namespace Telemetry.Testing;

/// <summary>How a <see cref="RedisServer"/> keeps its data.</summary>
public sealed record class RedisOptions
{
    /// <summary>
    /// Appends every write to a file in the server's directory (<c>--appendonly yes</c>), so that
    /// data survives <see cref="RedisServer.RestartAsync"/>. Off by default: nothing is saved.
    /// </summary>
    public bool AppendOnly { get; init; }

    /// <summary>Further command-line arguments, appended as given.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

/// <summary>A real redis-server 7 on a free loopback port, with its directory in a temporary folder.</summary>
public sealed class RedisServer : LoopbackServer
{
    private const string Executable = "redis-server";
    private const string Package = "redis-server";

    private readonly RedisOptions _options;

    private RedisServer(string binary, string directory, int port, RedisOptions options)
        : base(Executable, binary, directory)
    {
        Port = port;
        _options = options;
    }

    /// <summary>Always 127.0.0.1.</summary>
    public string Host { get; } = "127.0.0.1";

    /// <summary>The TCP port.</summary>
    public int Port { get; }

    /// <summary>StackExchange.Redis configuration string, <c>127.0.0.1:PORT</c>.</summary>
    public string ConnectionString => $"{Host}:{Port}";

    /// <summary>The server's working directory (append-only files live here).</summary>
    public string Directory => ServerDirectory;

    /// <summary>The last lines the server wrote.</summary>
    public string Output => ServerOutput;

    /// <summary>Starts a server that keeps nothing on disk.</summary>
    public static Task<RedisServer> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(new RedisOptions(), cancellationToken);

    /// <summary>Starts a server configured by <paramref name="options"/>.</summary>
    /// <exception cref="ServerNotInstalledException">redis-server is not installed.</exception>
    public static async Task<RedisServer> StartAsync(RedisOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return await StartServerAsync(
            Executable,
            Package,
            "redis",
            (binary, directory) => new RedisServer(binary, directory, FreePort.Next(), options),
            cancellationToken);
    }

    /// <summary>Stops the server with SIGTERM (it finishes its append-only file), then kill; the port stays for <see cref="RestartAsync"/>.</summary>
    public Task StopAsync() => StopServerAsync();

    /// <summary>Stops the server if it runs and starts it again on the same port and directory.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => RestartServerAsync(cancellationToken);

    /// <summary>Sends one inline command (such as <c>PING</c> or <c>DBSIZE</c>) and returns the first line of the reply.</summary>
    public async Task<string> CommandAsync(string inlineCommand, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inlineCommand);
        using var client = new TcpClient();
        await client.ConnectAsync(Host, Port, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(inlineCommand + "\r\n"), cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadLineAsync(cancellationToken) ?? "";
    }

    protected override IEnumerable<string> BuildArguments()
    {
        List<string> arguments =
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--save", "",
            "--dir", Directory,
            "--appendonly", _options.AppendOnly ? "yes" : "no",
        ];
        arguments.AddRange(_options.ExtraArguments);
        return arguments;
    }

    // A server still loading its append-only file answers -LOADING, not +PONG.
    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken) =>
        await CommandAsync("PING", cancellationToken) == "+PONG";
}
