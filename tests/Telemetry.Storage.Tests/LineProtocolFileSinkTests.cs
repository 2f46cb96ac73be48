using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Tests;

public sealed class LineProtocolFileSinkTests : IDisposable
{
    private static readonly DateTime Day1 = new(2026, 3, 1, 23, 59, 58, DateTimeKind.Utc);
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<LineProtocolFileSink> _logger = new();

    private LineProtocolFileSink CreateSink(string? directory = null) =>
        new(Options.Create(new TimeSeriesOptions { FileDirectory = directory ?? _dir.Path }), _logger, new StorageMetrics());

    [Fact]
    public async Task WriteSamplesAsync_WritesTheMappedLinesToTheFileOfTheSampleDay()
    {
        using var sink = CreateSink();
        Sample[] samples = [TestData.FullSample(Day1), Sample.Empty(Day1.AddSeconds(1))];

        await sink.WriteSamplesAsync("LGDCHA1G8MA127733", samples, TestContext.Current.CancellationToken);

        var file = Path.Combine(_dir.Path, "hdv-2026-03-01.lp");
        Assert.Equal(SamplePoints.ToLines("LGDCHA1G8MA127733", samples), TempDirectory.ReadLines(file));
    }

    [Fact]
    public async Task WriteSamplesAsync_SamplesAcrossUtcMidnight_GoToOneFilePerDay()
    {
        using var sink = CreateSink();
        var samples = Enumerable.Range(0, 4).Select(i => TestData.FullSample(Day1.AddSeconds(i))).ToArray();

        await sink.WriteSamplesAsync("LGDCHA1G8MA127733", samples, TestContext.Current.CancellationToken);

        Assert.Equal(2, TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 1))).Length);
        Assert.Equal(2, TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 2))).Length);
    }

    [Fact]
    public async Task WriteSamplesAsync_ReissuedOlderDayAfterNewerDay_AppendsToTheOlderDayFile()
    {
        using var sink = CreateSink();
        var ct = TestContext.Current.CancellationToken;

        await sink.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1.AddDays(1))], ct);
        await sink.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1)], ct);
        await sink.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1.AddDays(1).AddSeconds(1))], ct);

        Assert.Single(TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 1))));
        Assert.Equal(2, TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 2))).Length);
    }

    [Fact]
    public async Task WriteSamplesAsync_ConcurrentCalls_KeepEveryLineWholeAndEachCallContiguous()
    {
        using var sink = CreateSink();
        var vins = Enumerable.Range(0, 16).Select(_ => TestData.NewVin()).ToArray();
        var start = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

        await Task.WhenAll(vins.Select(vin => Task.Run(async () =>
        {
            for (var call = 0; call < 5; call++)
            {
                var samples = Enumerable.Range(0, 10).Select(i => TestData.FullSample(start.AddSeconds(call * 10 + i))).ToArray();
                await sink.WriteSamplesAsync(vin, samples);
            }
        }, TestContext.Current.CancellationToken)));

        var lines = TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 1)));
        Assert.Equal(16 * 5 * 10, lines.Length);
        var expected = vins.SelectMany(vin => Enumerable.Range(0, 50).Select(i => SamplePoints.ToLine(vin, TestData.FullSample(start.AddSeconds(i)))));
        Assert.Equal(expected.Order(StringComparer.Ordinal), lines.Order(StringComparer.Ordinal));
        for (var block = 0; block < lines.Length; block += 10)
            Assert.Single(lines.Skip(block).Take(10).Select(l => l[..l.IndexOf(' ', StringComparison.Ordinal)]).Distinct());
    }

    [Fact]
    public async Task WriteAlertAsync_AppendsTheAlertLineToTheFileOfTheEpisodeStartDay()
    {
        using var sink = CreateSink();
        var alert = TestData.Alert("LGDCHA1G8MA127733", startUtc: Day1);

        await sink.WriteAlertAsync(alert, TestContext.Current.CancellationToken);

        Assert.Equal([SamplePoints.ToLine(alert)], TempDirectory.ReadLines(sink.FileFor(new DateOnly(2026, 3, 1))));
    }

    [Fact]
    public async Task WriteSamplesAsync_AfterRestart_AppendsToTheExistingFile()
    {
        var ct = TestContext.Current.CancellationToken;
        using (var first = CreateSink())
            await first.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1)], ct);
        using var second = CreateSink();

        await second.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1.AddSeconds(1))], ct);

        Assert.Equal(2, TempDirectory.ReadLines(second.FileFor(new DateOnly(2026, 3, 1))).Length);
    }

    [Fact]
    public void Constructor_RelativeDirectory_CreatesItAndLogsItsAbsolutePath()
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_dir.Path, "nested", "ts"));

        using var sink = CreateSink(relative);

        Assert.True(Path.IsPathFullyQualified(sink.Directory));
        Assert.True(Directory.Exists(Path.Combine(_dir.Path, "nested", "ts")));
        var entry = Assert.Single(_logger.Entries, e => e.Event.Id == 4010);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains(sink.Directory, entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteSamplesAsync_AfterDispose_Throws()
    {
        var sink = CreateSink();
        sink.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
            await sink.WriteSamplesAsync("LGDCHA1G8MA127733", [TestData.FullSample(Day1)], TestContext.Current.CancellationToken));
    }

    public void Dispose() => _dir.Dispose();
}
