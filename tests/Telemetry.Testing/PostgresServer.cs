using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Telemetry.Testing;

/// <summary>
/// A real PostgreSQL 15 on a free loopback port with its cluster in a temporary directory, made with
/// <c>initdb</c> and run by <c>pg_ctl</c> (as the <c>postgres</c> user when the tests run as root, since the
/// server refuses root). Trust authentication for the user <c>telemetry</c>; <c>fsync=off</c>, so it is for
/// tests that do not kill it. Each test takes a database of its own from <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string Package = "postgresql";
    private static readonly string[] BinaryDirectories = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

    private readonly string _binDirectory;
    private readonly string _directory;
    private int _databases;

    private PostgresServer(string binDirectory, string directory, int port)
    {
        _binDirectory = binDirectory;
        _directory = directory;
        Port = port;
    }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Connection string of the <c>postgres</c> database as user <c>telemetry</c>.</summary>
    public string ConnectionString => Connection("postgres");

    /// <summary>Starts a server.</summary>
    /// <exception cref="ServerNotInstalledException">PostgreSQL is not installed.</exception>
    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var bin = BinaryDirectories.FirstOrDefault(d => File.Exists(Path.Combine(d, "pg_ctl")))
            ?? Path.GetDirectoryName(ServerBinary.Locate("pg_ctl", Package))!;
        var directory = ServerStart.CreateDirectory("postgres");
        var server = new PostgresServer(bin, directory, FreePort.Next());
        try
        {
            if (Environment.IsPrivilegedProcess)
                await RunAsync("chown", ["-R", "postgres", directory], cancellationToken);
            await server.RunToolAsync("initdb", ["-D", server.DataDirectory, "-A", "trust", "-U", "telemetry", "--no-sync"], cancellationToken);
            await server.RunToolAsync("pg_ctl", ["-D", server.DataDirectory, "-l", Path.Combine(directory, "log"), "-w", "-t", "60", "-o",
                string.Create(CultureInfo.InvariantCulture, $"-p {server.Port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"),
                "start"], cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}");
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return Connection(name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await RunToolAsync("pg_ctl", ["-D", DataDirectory, "-w", "-t", "30", "stop", "-m", "immediate"], CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
                // Already gone; the directory is removed below.
            }
        }
        TempDirectory.Delete(_directory);
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    private string Connection(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "telemetry",
        Database = database,
        Pooling = true,
    }.ToString();

    private Task RunToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_binDirectory, tool);
        return Environment.IsPrivilegedProcess
            ? RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], cancellationToken)
            : RunAsync(path, arguments, cancellationToken);
    }

    private static async Task RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{fileName} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}

/// <summary>One PostgreSQL server shared by the tests that use this fixture; each test creates its own database.</summary>
public sealed class PostgresFixture : ServerFixture<PostgresServer>
{
    protected override Task<PostgresServer> StartAsync(CancellationToken cancellationToken) => PostgresServer.StartAsync(cancellationToken);
}
