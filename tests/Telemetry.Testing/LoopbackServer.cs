namespace Telemetry.Testing;

/// <summary>
/// The lifecycle shared by the real-server fixtures: one server binary running as a child process
/// on loopback ports, with its configuration and state in a temporary directory. Stopping keeps the
/// ports and the directory so that the server can run again on them; disposing kills the process
/// and deletes the directory.
/// </summary>
/// <remarks>
/// A server says how it runs (<see cref="BuildArguments"/>), when it is ready
/// (<see cref="IsReadyAsync"/>), and optionally what it writes before its first run
/// (<see cref="PrepareAsync"/>), what it does once it first answers (<see cref="InitializeAsync"/>)
/// and what else it releases (<see cref="ReleaseResources"/>). Its static start method calls
/// <see cref="StartServerAsync"/>.
/// </remarks>
public abstract class LoopbackServer : IAsyncDisposable
{
    private readonly string _name;
    private readonly string _binary;
    private ServerProcess? _process;

    /// <summary>Creates a server that does not run yet.</summary>
    /// <param name="name">Short name of the server, given to its process and used in messages.</param>
    /// <param name="binary">Absolute path of the server's executable.</param>
    /// <param name="directory">The server's temporary directory, also its working directory.</param>
    protected LoopbackServer(string name, string binary, string directory)
    {
        _name = name;
        _binary = binary;
        ServerDirectory = directory;
    }

    /// <summary>The server's temporary directory, deleted on dispose.</summary>
    protected string ServerDirectory { get; }

    /// <summary>The last lines the server process wrote; empty while it does not run.</summary>
    protected string ServerOutput => _process?.Output ?? "";

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        TempDirectory.Delete(ServerDirectory);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Locates the binary, creates the temporary directory and starts a server in it, retrying with
    /// fresh ports when another process took one first. A failed attempt releases its server; a
    /// failed start deletes the directory.
    /// </summary>
    /// <typeparam name="TServer">The server type.</typeparam>
    /// <param name="executable">File name of the server's executable, such as <c>mosquitto</c>.</param>
    /// <param name="debianPackage">The Debian package that ships it, named when it is missing.</param>
    /// <param name="directoryName">Part of the temporary directory's name, such as <c>redis</c>.</param>
    /// <param name="create">
    /// Creates a server from the binary path and the directory, with fresh ports; called once per attempt.
    /// </param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="ServerNotInstalledException">The executable is not installed.</exception>
    protected static async Task<TServer> StartServerAsync<TServer>(
        string executable,
        string debianPackage,
        string directoryName,
        Func<string, string, TServer> create,
        CancellationToken cancellationToken)
        where TServer : LoopbackServer
    {
        ArgumentNullException.ThrowIfNull(create);
        var binary = ServerBinary.Locate(executable, debianPackage);
        var directory = ServerStart.CreateDirectory(directoryName);
        try
        {
            return await ServerStart.WithPortRetryAsync(async () =>
            {
                var server = create(binary, directory);
                try
                {
                    await server.PrepareAsync(cancellationToken);
                    await server.RunAsync(cancellationToken);
                    await server.InitializeAsync(cancellationToken);
                    return server;
                }
                catch
                {
                    await server.ReleaseAsync();
                    throw;
                }
            });
        }
        catch
        {
            TempDirectory.Delete(directory);
            throw;
        }
    }

    /// <summary>Stops the server gracefully (SIGTERM, then kill); the ports and the directory stay.</summary>
    protected async Task StopServerAsync()
    {
        if (_process is null)
            return;
        await _process.DisposeAsyncGraceful();
        _process = null;
    }

    /// <summary>Stops the server if it runs and starts it again on the same ports and directory.</summary>
    protected async Task RestartServerAsync(CancellationToken cancellationToken)
    {
        await StopServerAsync();
        await RunAsync(cancellationToken);
    }

    /// <summary>The command-line arguments of the server; built again for every run.</summary>
    protected abstract IEnumerable<string> BuildArguments();

    /// <summary>One readiness probe: true once the server serves clients.</summary>
    protected abstract Task<bool> IsReadyAsync(CancellationToken cancellationToken);

    /// <summary>Writes what the server reads at start (configuration files); runs once, before the first run.</summary>
    protected virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Sets the server up once it first answers (creates databases); not repeated on restart.</summary>
    protected virtual Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Releases what the server holds besides its process; called after the process is gone.</summary>
    protected virtual void ReleaseResources()
    {
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        _process = ServerProcess.Start(_name, _binary, BuildArguments(), ServerDirectory);
        await _process.WaitUntilReadyAsync(IsReadyAsync, ServerStart.ReadyTimeout, cancellationToken);
    }

    private async Task ReleaseAsync()
    {
        if (_process is not null)
            await _process.DisposeAsync();
        _process = null;
        ReleaseResources();
    }
}
