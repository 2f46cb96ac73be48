namespace Telemetry.Testing;

/// <summary>
/// Finds the executable of a real server. A missing binary is an error that says how to install
/// it: tests that need a server fail, they are never skipped.
/// </summary>
public static class ServerBinary
{
    private static readonly string[] WellKnownDirectories = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"];

    /// <summary>
    /// The absolute path of <paramref name="executable"/>, looked up on PATH and in the usual system
    /// directories (mosquitto lives in /usr/sbin, which a non-root PATH may lack).
    /// </summary>
    /// <param name="executable">File name, such as <c>mosquitto</c>.</param>
    /// <param name="debianPackage">The Debian package that ships it, named in the error message.</param>
    /// <exception cref="ServerNotInstalledException">The executable is nowhere to be found.</exception>
    public static string Locate(string executable, string debianPackage)
    {
        ArgumentException.ThrowIfNullOrEmpty(executable);
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var candidates = path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(WellKnownDirectories);
        foreach (var directory in candidates)
        {
            var candidate = Path.Combine(directory, executable);
            if (File.Exists(candidate))
                return candidate;
        }

        throw new ServerNotInstalledException(executable, debianPackage);
    }
}

/// <summary>A server binary that a test needs is not installed; the message says how to install it.</summary>
public sealed class ServerNotInstalledException : Exception
{
    /// <summary>Creates the exception for <paramref name="executable"/> shipped by <paramref name="debianPackage"/>.</summary>
    public ServerNotInstalledException(string executable, string debianPackage)
        : base($"{executable} is not installed: run `apt-get update && apt-get install -y {debianPackage}` " +
               "(or `.ci/run`, which installs every server the tests need).")
    {
        Executable = executable;
        DebianPackage = debianPackage;
    }

    public ServerNotInstalledException()
    {
        Executable = "";
        DebianPackage = "";
    }

    public ServerNotInstalledException(string message) : base(message)
    {
        Executable = "";
        DebianPackage = "";
    }

    public ServerNotInstalledException(string message, Exception innerException) : base(message, innerException)
    {
        Executable = "";
        DebianPackage = "";
    }

    /// <summary>The missing executable.</summary>
    public string Executable { get; }

    /// <summary>The Debian package to install.</summary>
    public string DebianPackage { get; }
}
