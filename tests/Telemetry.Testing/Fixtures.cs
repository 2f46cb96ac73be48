namespace Telemetry.Testing;

/// <summary>
/// Base of the shared server fixtures: one server for a whole test assembly
/// (<c>[assembly: AssemblyFixture(typeof(VictoriaMetricsFixture))]</c>, then a constructor parameter)
/// or for a collection (<c>[CollectionDefinition] ... ICollectionFixture&lt;MosquittoFixture&gt;</c>).
/// Tests sharing one server keep their data apart, for example by VIN.
/// </summary>
/// <typeparam name="TServer">The server type.</typeparam>
public abstract class ServerFixture<TServer> : IAsyncLifetime
    where TServer : class, IAsyncDisposable
{
    private TServer? _server;

    /// <summary>The running server; available once the fixture is initialized.</summary>
    public TServer Server => _server ?? throw new InvalidOperationException($"{GetType().Name} is not initialized.");

    public async ValueTask InitializeAsync() =>
        _server = await StartAsync(TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        _server = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the server.</summary>
    protected abstract Task<TServer> StartAsync(CancellationToken cancellationToken);
}

/// <summary>One mosquitto broker (anonymous clients allowed) shared by the tests that use this fixture.</summary>
public sealed class MosquittoFixture : ServerFixture<MosquittoServer>
{
    protected override Task<MosquittoServer> StartAsync(CancellationToken cancellationToken) => MosquittoServer.StartAsync(cancellationToken);
}

/// <summary>One VictoriaMetrics server shared by the tests that use this fixture.</summary>
public sealed class VictoriaMetricsFixture : ServerFixture<VictoriaMetricsServer>
{
    protected override Task<VictoriaMetricsServer> StartAsync(CancellationToken cancellationToken) => VictoriaMetricsServer.StartAsync(cancellationToken);
}

/// <summary>One InfluxDB 1.6 server (database <c>telemetry</c>) shared by the tests that use this fixture.</summary>
public sealed class InfluxDb1Fixture : ServerFixture<InfluxDb1Server>
{
    protected override Task<InfluxDb1Server> StartAsync(CancellationToken cancellationToken) => InfluxDb1Server.StartAsync(cancellationToken);
}

/// <summary>One redis-server (nothing saved) shared by the tests that use this fixture.</summary>
public sealed class RedisFixture : ServerFixture<RedisServer>
{
    protected override Task<RedisServer> StartAsync(CancellationToken cancellationToken) => RedisServer.StartAsync(cancellationToken);
}
