extern alias cli;

using System.Globalization;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The journal is the raw-frame archive: <c>telemetry-cli replay</c> feeds it back through a broker
/// into a silo, and deduplication makes a second replay store nothing twice.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ReplayTests
{
    [Fact]
    public async Task Replay_OfAStoppedSilosJournal_StoresEverySampleOnceInAnotherSilo_EvenWhenReplayedTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        var trace = FaultTrace.Create(trucks: 5, framesPerTruck: 12, seed: 7600, withExceedance: false);
        string journal;
        // A first silo (line-protocol files) takes the frames and keeps them in its journal.
        var first = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string> { ["Telemetry:Mqtt:UseSharedSubscription"] = "false" });
        try
        {
            journal = Path.Combine(first.DataDirectory, "journal");
            await using (var terminal = new RepublishingTerminal(broker.Host, broker.Port, "replay-source"))
            {
                await terminal.PublishAllAsync(trace.Frames, inFlight: 20, perSecond: 200, TimeSpan.FromMinutes(1), null, ct);
            }
            await Eventually.WaitAsync(() => first.Ingest.Totals.Decoded == trace.Frames.Count, TimeSpan.FromSeconds(30), "the first silo stores every frame", ct);
            var copy = Directory.CreateTempSubdirectory("telemetry-replay-").FullName;
            await first.StopAsync();
            foreach (var file in Directory.EnumerateFiles(journal, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "journal.lock"))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(journal, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            journal = copy;
        }
        finally
        {
            await first.DisposeAsync();
        }

        // A second silo writing to a victoria-metrics without deduplication gets the archive, twice.
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var second = await SiloUnderTest.StartAsync(broker, tsdb.Url);
        for (var run = 0; run < 2; run++)
        {
            using var stdout = new StringWriter(CultureInfo.InvariantCulture);
            using var stderr = new StringWriter(CultureInfo.InvariantCulture);
            var exit = await Task.Run(() => cli::Telemetry.Cli.CliApp.Run(["replay", "--journal", journal, "--broker", $"{broker.Host}:{broker.Port}"], Stream.Null, stdout, stderr), ct);
            Assert.True(exit == 0, $"replay exited {exit}: {stdout}{stderr}");
            Assert.Contains($"Replayed {trace.Frames.Count} frames", stdout.ToString(), StringComparison.Ordinal);
            await Eventually.WaitAsync(() => second.Ingest.Totals.Decoded == (run + 1) * trace.Frames.Count, TimeSpan.FromSeconds(30),
                "the second silo takes every replayed frame", ct);
        }
        await trace.AssertStoredExactlyOnceAsync(tsdb, TimeSpan.FromSeconds(60), ct);
        TempDirectory.Delete(journal);
    }
}
