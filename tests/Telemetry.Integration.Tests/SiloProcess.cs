using System.Diagnostics;
using System.Globalization;
using System.Text;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The real silo program as a child process (the build output of Telemetry.Silo beside the tests),
/// so that a test can kill it with SIGKILL and start it again on the same data directory.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();

    private SiloProcess(Process process, Uri apiUrl, string dataDirectory)
    {
        _process = process;
        ApiUrl = apiUrl;
        DataDirectory = dataDirectory;
        Http = new HttpClient { BaseAddress = apiUrl, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Base address of the HTTP API.</summary>
    public Uri ApiUrl { get; }

    /// <summary>Working directory of the process: its <c>data/</c> holds journal, state, alerts.</summary>
    public string DataDirectory { get; }

    /// <summary>Client of the API.</summary>
    public HttpClient Http { get; }

    /// <summary>What the process wrote to stdout and stderr (the last 200,000 characters).</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the silo in <paramref name="dataDirectory"/> (created when null) with the settings given,
    /// on free API and Orleans ports, and waits until <c>/health/ready</c> answers 200.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(IDictionary<string, string> settings, string? dataDirectory, CancellationToken cancellationToken)
    {
        var ports = FreePort.Next(3);
        var data = dataDirectory ?? Directory.CreateTempSubdirectory("telemetry-silo-process-").FullName;
        var apiUrl = new Uri($"http://127.0.0.1:{ports[0]}");
        var config = new Dictionary<string, string>
        {
            ["Urls"] = apiUrl.ToString(),
            ["Telemetry:Orleans:SiloPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Telemetry:Orleans:GatewayPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Telemetry"] = "Information",
        };
        foreach (var (key, value) in settings)
        {
            config[key] = value;
        }
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = data,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Telemetry.Silo.dll"));
        foreach (var (key, value) in config)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, apiUrl, data);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The silo exited with {process.ExitCode} while starting:\n{silo.Output}");
            }
            try
            {
                using var response = await silo.Http.GetAsync("/health/ready", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    // The first start wrote an admin key (relative to the working directory, unless a setting moved it).
                    var key = Path.Combine(data, config.GetValueOrDefault("Telemetry:Api:AdminKeyFile", "data/keys/admin.key"));
                    silo.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(key));
                    return silo;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline)
            {
                await silo.DisposeAsync();
                throw new TimeoutException($"The silo did not become ready within 60 s:\n{silo.Output}");
            }
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
    }

    private bool _disposed;

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_outputLock)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > 200_000)
            {
                _output.Remove(0, _output.Length - 200_000);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

/// <summary>Reads a silo's <c>/metrics</c>.</summary>
public static class SiloMetrics
{
    /// <summary>
    /// The sum over labels of the Prometheus samples named <paramref name="name"/> at <c>/metrics</c>
    /// of the silo behind <paramref name="http"/>; NaN when the silo does not expose it.
    /// </summary>
    public static async Task<double> MetricAsync(this HttpClient http, string name, CancellationToken cancellationToken) =>
        Telemetry.Fleet.Load.PrometheusText.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken)).Sum(name) ?? double.NaN;
}
