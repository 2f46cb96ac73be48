using System.Collections.Immutable;
using System.Text.Json;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Field firmware through the real broker: a gateway's payload of several frames is split and each
/// frame stored or dead-lettered on its own; a terminal with the signed-records layout, named in the
/// registry, has its signatures verified, its samples marked, its failures counted and alerted.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)]
public sealed class FieldFirmwareIngestTests
{
    private const string GatewayVin = "LSJMGATEWAY000001";
    private const string SignedVin = "LSJMSGNRD00000001";

    private static DateTime RecentSecond()
    {
        var t = DateTime.UtcNow.AddMinutes(-5);
        return new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, DateTimeKind.Utc);
    }

    private static Sample Sample(DateTime timeUtc, double odometerKm) => Telemetry.Abstractions.Sample.Empty(timeUtc) with
    {
        SpeedKmh = 40,
        EngineSpeedRpm = 1200,
        CoolantTempC = 80,
        OdometerKm = odometerKm,
        PositionStatus = 0,
        Longitude = 117.0,
        Latitude = 36.65,
    };

    private static byte[] Frame(string vin, DateTime timeUtc, TerminalProfile profile, string? privateKey = null, Sample? sample = null) =>
        FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, timeUtc, 1, [sample ?? Sample(timeUtc, 1000)], ImmutableArray<ObdSnapshot>.Empty, timeUtc),
            profile, 0x11, privateKey);

    [Fact]
    public async Task OnePayloadOfThreeFrames_OneCorrupt_StoresTwoAndDeadLettersOne()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url);
        await using var gateway = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);

        var t0 = RecentSecond();
        var first = Frame(GatewayVin, t0, TerminalProfile.Gb17691);
        var corrupt = Frame(GatewayVin, t0.AddSeconds(1), TerminalProfile.Gb17691);
        corrupt[40] ^= 0x10; // a data byte flipped on the way: the check code no longer matches
        var third = Frame(GatewayVin, t0.AddSeconds(2), TerminalProfile.Gb17691);
        var topic = $"hdv/{GatewayVin}/gb17691";

        await gateway.PublishAsync(topic, [.. first, .. corrupt, .. third], ct);

        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded + silo.Ingest.Totals.Rejected == 3,
            TimeSpan.FromSeconds(30), "all three frames of the payload should be processed", ct);
        Assert.Equal(1, silo.Ingest.Totals.Received);
        Assert.Equal(2, silo.Ingest.Totals.Decoded);
        Assert.Equal(1, silo.Ingest.Totals.Rejected);

        var letter = JsonDocument.Parse(Assert.Single(File.ReadAllLines(Path.Combine(silo.DataDirectory, "dead-letters.jsonl")))).RootElement;
        Assert.Equal("badCheckCode", letter.GetProperty("reason").GetString());
        Assert.Equal(topic, letter.GetProperty("topic").GetString());
        Assert.Equal(Convert.ToBase64String(corrupt), letter.GetProperty("payload").GetString());
        Assert.Contains($"frame 2 of 3 in the payload, at byte {first.Length}", letter.GetProperty("message").GetString(), StringComparison.Ordinal);

        var stored = Assert.Single(await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_odometerKm\"}", 2, TimeSpan.FromSeconds(30), ct));
        Assert.Equal(GatewayVin, stored.Label("vin"));
        Assert.Equal([new DateTimeOffset(t0).ToUnixTimeMilliseconds(), new DateTimeOffset(t0.AddSeconds(2)).ToUnixTimeMilliseconds()], stored.TimestampsMs);
    }

    [Fact]
    public async Task SignedRecordsTerminalInTheRegistry_IsVerifiedMarkedCountedAndAFailingSignatureAlerts()
    {
        var ct = TestContext.Current.CancellationToken;
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var (otherPrivateKey, _) = Sm2Signatures.GenerateKeyPair();
        var directory = Directory.CreateTempSubdirectory("telemetry-signed-");
        try
        {
            var registry = Path.Combine(directory.FullName, "registry.json");
            await File.WriteAllTextAsync(registry,
                $$"""[{"vin":"{{SignedVin}}","fleet":"f1","terminalProfile":"signedRecords","terminalPublicKey":"{{publicKey}}"}]""", ct);
            await using var broker = await MosquittoServer.StartAsync(ct);
            await using var tsdb = await VictoriaMetricsServer.StartAsync(ct);
            await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string>
            {
                ["Telemetry:ReferenceData:RegistryPath"] = registry,
            });
            await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);

            var t0 = RecentSecond();
            var withSupplementary = Sample(t0, 2000) with { UreaDosingMlph = 850.25, TotalFuelUsedL = 12345.5, DpfExhaustTempC = 412.5 };
            var good = Frame(SignedVin, t0, TerminalProfile.SignedRecords, privateKey, withSupplementary);
            var forged = Frame(SignedVin, t0.AddSeconds(1), TerminalProfile.SignedRecords, otherPrivateKey, Sample(t0.AddSeconds(1), 2001));

            // The topic says gb17691; the registry says this terminal writes signed records.
            await terminal.PublishAsync($"hdv/{SignedVin}/gb17691", [.. good, .. forged], ct);

            var marks = Assert.Single(await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_signature\"}", 2, TimeSpan.FromSeconds(30), ct));
            Assert.Equal([(double)SignatureCheck.Verified, (double)SignatureCheck.Failed], marks.Values);
            var dosing = Assert.Single(await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_ureaDosingMlph\"}", 1, TimeSpan.FromSeconds(30), ct));
            Assert.Equal([850.25], dosing.Values);
            Assert.Equal(0, silo.Ingest.Totals.Rejected);

            var metrics = await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
            // The good frame: its data-stream and supplementary records verified; the forged one: one record failed.
            Assert.Matches("telemetry_ingest_signatures_total\\{(?=[^}]*reason=\"mismatch\")(?=[^}]*result=\"failed\")[^}]*\\} 1(\\s|$)", metrics);
            Assert.Matches("telemetry_ingest_signatures_total\\{(?=[^}]*reason=\"none\")(?=[^}]*result=\"verified\")[^}]*\\} 2(\\s|$)", metrics);

            await Eventually.WaitAsync(async () => (await silo.GetAlertsAsync($"?vin={SignedVin}")).Any(a => a.RuleId == "R9.signature"),
                TimeSpan.FromSeconds(30), "a failing signature should raise the data-quality alert", ct);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
