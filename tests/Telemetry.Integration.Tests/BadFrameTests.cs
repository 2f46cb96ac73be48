using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text.Json;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Bad binary frames sent through the real broker are rejected with their reason, counted and
/// dead-lettered, and ingest goes on with the next good frame.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)]
public sealed class BadFrameTests
{
    private const string VinA = "LSJMBADFRAM000001";
    private const string VinB = "LSJMBADFRAM000002";

    [Fact]
    public async Task BadFrames_ThroughBroker_AreRejectedCountedDeadLetteredAndNextGoodFrameIsStored()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url);
        await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);

        var t0 = DateTime.UtcNow.AddMinutes(-5);
        t0 = new DateTime(t0.Year, t0.Month, t0.Day, t0.Hour, t0.Minute, t0.Second, DateTimeKind.Utc);
        var topic = $"hdv/{VinA}/gb17691";

        var good1 = Frame(VinA, t0);
        var badCheck = Frame(VinA, t0.AddSeconds(1));
        badCheck[^1] ^= 0x5A;
        var lyingLength = Frame(VinA, t0.AddSeconds(2));
        BinaryPrimitives.WriteUInt16BigEndian(lyingLength.AsSpan(22), (ushort)(lyingLength.Length + 100));
        lyingLength[^1] = Xor(lyingLength.AsSpan(2, lyingLength.Length - 3));
        var foreign = Frame(VinB, t0.AddSeconds(3));
        var unsupportedRecord = UnsupportedRecordFrame(VinA, t0.AddSeconds(4));
        var good2 = Frame(VinA, t0.AddSeconds(5));

        await terminal.PublishAsync(topic, good1, ct);
        await terminal.PublishAsync(topic, badCheck, ct);
        await terminal.PublishAsync(topic, lyingLength, ct);
        await terminal.PublishAsync(topic, foreign, ct);            // VinB's frame on VinA's topic: a spoof
        await terminal.PublishAsync(topic, unsupportedRecord, ct);
        await terminal.PublishAsync(topic, good2, ct);

        await Eventually.WaitAsync(() => silo.Ingest.Totals.Received == 6 && silo.Ingest.Totals.Decoded + silo.Ingest.Totals.Rejected == 6,
            TimeSpan.FromSeconds(30), "all six messages should be processed", ct);
        Assert.Equal(2, silo.Ingest.Totals.Decoded);
        Assert.Equal(4, silo.Ingest.Totals.Rejected);

        var letters = File.ReadAllLines(Path.Combine(silo.DataDirectory, "dead-letters.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToList();
        var reasons = letters.Select(l => l.GetProperty("reason").GetString()).ToList();
        Assert.Equal(["badCheckCode", "truncated", "vinMismatch", "unsupportedRecordType"], reasons);
        Assert.All(letters, l => Assert.Equal(topic, l.GetProperty("topic").GetString()));
        Assert.Equal(Convert.ToBase64String(badCheck), letters[0].GetProperty("payload").GetString());
        Assert.All(letters, l => Assert.False(string.IsNullOrWhiteSpace(l.GetProperty("message").GetString())));

        // Counted per reason as OpenTelemetry metrics, visible at /metrics.
        var metrics = await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        foreach (var reason in new[] { "badCheckCode", "truncated", "vinMismatch", "unsupportedRecordType" })
        {
            Assert.Matches($"telemetry_ingest_rejected_total\\{{[^}}]*reason=\"{reason}\"[^}}]*\\}} 1(\\s|$)", metrics);
        }

        var series = await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_odometerKm\"}", 2, TimeSpan.FromSeconds(30), ct);
        var stored = Assert.Single(series);
        Assert.Equal(VinA, stored.Label("vin"));
        Assert.Equal([new DateTimeOffset(t0).ToUnixTimeMilliseconds(), new DateTimeOffset(t0.AddSeconds(5)).ToUnixTimeMilliseconds()], stored.TimestampsMs);
    }

    private static byte[] Frame(string vin, DateTime timeUtc)
    {
        var sample = Sample.Empty(timeUtc) with
        {
            SpeedKmh = 40,
            EngineSpeedRpm = 1200,
            CoolantTempC = 80,
            OdometerKm = 1234.5,
            PositionStatus = 0,
            Longitude = 117.0,
            Latitude = 36.65,
        };
        var batch = new TelemetryBatch(vin, FrameKind.RealTime, timeUtc, 1, [sample], ImmutableArray<ObdSnapshot>.Empty, timeUtc);
        return FrameEncoder.Encode(batch, TerminalProfile.Gb17691);
    }

    /// <summary>A real-time frame whose only record is of type 0x03 (three-way catalyst), which is not supported.</summary>
    private static byte[] UnsupportedRecordFrame(string vin, DateTime timeUtc)
    {
        var cst = timeUtc.AddHours(8);
        byte[] data =
        [
            (byte)(cst.Year - 2000), (byte)cst.Month, (byte)cst.Day, (byte)cst.Hour, (byte)cst.Minute, (byte)cst.Second,
            0x03, 0x00, 0x01, 0x10, 0x20, 0x30, 0x40,
        ];
        return FrameCodec.Wrap(0x02, vin, data);
    }

    private static byte Xor(ReadOnlySpan<byte> bytes)
    {
        byte x = 0;
        foreach (var b in bytes)
        {
            x ^= b;
        }
        return x;
    }
}
