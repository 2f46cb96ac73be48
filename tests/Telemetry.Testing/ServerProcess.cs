using System.Diagnostics;
using System.Text;

namespace Telemetry.Testing;

/// <summary>
/// A server binary running as a child process, with the tail of its stdout and stderr kept for
/// error messages. Stopping kills the whole process tree.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const int TailLines = 200;
    private static readonly TimeSpan GracefulStopTimeout = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Lock _tailLock = new();

    private ServerProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>Short name of the server, used in messages.</summary>
    public string Name { get; }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the process wrote to stdout and stderr.</summary>
    public string Output
    {
        get
        {
            lock (_tailLock)
                return string.Join('\n', _tail);
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>.</summary>
    public static ServerProcess Start(string name, string fileName, IEnumerable<string> arguments, string workingDirectory)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
            startInfo.ArgumentList.Add(argument);

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var server = new ServerProcess(name, process);
        process.OutputDataReceived += (_, e) => server.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => server.Capture(e.Data);
        if (!process.Start())
            throw new InvalidOperationException($"{name} did not start: {fileName} {string.Join(' ', startInfo.ArgumentList)}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it returns true. Fails with the process output when the
    /// process exits first or the deadline passes (and then kills it).
    /// </summary>
    public async Task WaitUntilReadyAsync(Func<CancellationToken, Task<bool>> probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(20);
        Exception? lastError = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                // Let the output readers drain what the process wrote before it died.
                await _process.WaitForExitAsync(cancellationToken);
                throw new ServerExitedException(Name, _process.ExitCode, Output);
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(2));
                if (await probe(attempt.Token))
                    return;
                lastError = null;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                lastError = ex;
            }

            if (clock.Elapsed > timeout)
            {
                await StopAsync(graceful: false);
                throw new TimeoutException(
                    $"{Name} did not answer within {timeout.TotalSeconds:0} s" +
                    (lastError is null ? "" : $" (last probe error: {lastError.GetType().Name}: {lastError.Message})") +
                    $". Its output:\n{Output}");
            }

            await Task.Delay(pause, cancellationToken);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 200));
        }
    }

    /// <summary>
    /// Stops the process: SIGTERM first when <paramref name="graceful"/> (so it can flush its
    /// state), then a kill of the whole tree if it is still running after 10 s.
    /// </summary>
    public async Task StopAsync(bool graceful)
    {
        if (_process.HasExited)
        {
            await _process.WaitForExitAsync();
            return;
        }

        if (graceful && !OperatingSystem.IsWindows())
        {
            await SendTerminateAsync(_process.Id);
            using var wait = new CancellationTokenSource(GracefulStopTimeout);
            try
            {
                await _process.WaitForExitAsync(wait.Token);
                return;
            }
            catch (OperationCanceledException)
            {
                // Fall through to the kill below.
            }
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(graceful: false);
        _process.Dispose();
    }

    /// <summary>Stops gracefully (SIGTERM, then kill) and releases the process.</summary>
    public async Task DisposeAsyncGraceful()
    {
        await StopAsync(graceful: true);
        _process.Dispose();
    }

    private void Capture(string? line)
    {
        if (line is null)
            return;
        lock (_tailLock)
        {
            _tail.Enqueue(line);
            while (_tail.Count > TailLines)
                _tail.Dequeue();
        }
    }

    private static async Task SendTerminateAsync(int pid)
    {
        // .NET has no API for SIGTERM; /bin/kill is on every Linux machine these tests run on.
        var startInfo = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        startInfo.ArgumentList.Add("-TERM");
        startInfo.ArgumentList.Add(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var kill = Process.Start(startInfo);
            if (kill is not null)
                await kill.WaitForExitAsync();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No kill binary: the caller falls back to Process.Kill.
        }
    }
}

/// <summary>A server process exited while it was expected to come up.</summary>
public sealed class ServerExitedException : Exception
{
    /// <summary>Creates the exception with the process's exit code and last output lines.</summary>
    public ServerExitedException(string name, int exitCode, string output)
        : base($"{name} exited with code {exitCode} before it answered. Its output:\n{output}")
    {
        Output = output;
    }

    public ServerExitedException() => Output = "";

    public ServerExitedException(string message) : base(message) => Output = "";

    public ServerExitedException(string message, Exception innerException) : base(message, innerException) => Output = "";

    /// <summary>The last lines the process wrote.</summary>
    public string Output { get; }

    /// <summary>True when the output says the port was taken by another process (a port race).</summary>
    public bool PortWasTaken =>
        Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase) ||
        Output.Contains("Address in use", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Shared plumbing of the server fixtures: temp directories and port-race retries.</summary>
internal static class ServerStart
{
    /// <summary>How long a server gets to answer after it was started.</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);

    private const int PortAttempts = 5;

    /// <summary>A fresh temporary directory for one server's configuration and state.</summary>
    public static string CreateDirectory(string server) =>
        Directory.CreateTempSubdirectory($"telemetry-{server}-").FullName;

    /// <summary>
    /// Runs <paramref name="attempt"/> with fresh ports until one start succeeds; a start that failed
    /// because another process bound the port first is retried, any other failure is thrown.
    /// </summary>
    public static async Task<T> WithPortRetryAsync<T>(Func<Task<T>> attempt)
    {
        for (var i = 1; ; i++)
        {
            try
            {
                return await attempt();
            }
            catch (ServerExitedException ex) when (ex.PortWasTaken && i < PortAttempts)
            {
                // Another process took the port between probing and binding: try new ports.
            }
        }
    }

    /// <summary>Appends a line to a string builder with a Unix newline.</summary>
    public static StringBuilder Line(this StringBuilder builder, string line) => builder.Append(line).Append('\n');
}

/// <summary>Temporary directories of servers and tests.</summary>
public static class TempDirectory
{
    /// <summary>Deletes a temporary directory (a server's, a test's), tolerating files that vanish or linger.</summary>
    public static void Delete(string path)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                    Directory.Delete(path, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 2)
            {
                Thread.Sleep(100);
            }
            catch (UnauthorizedAccessException) when (attempt < 2)
            {
                Thread.Sleep(100);
            }
        }
    }
}
