using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Protocol;

namespace Telemetry.Protocol.Benchmarks;

/// <summary>
/// The cost of SM2 signatures (BouncyCastle, SM3 digest) on the ingest path: one verification, and the
/// <c>signedRecords</c> frame of ten data records, each followed by its own signature, decoded with the
/// terminal's key registered (ten verifications) and without one (marked "no key", nothing verified).
/// </summary>
[MemoryDiagnoser]
public class SignatureBenchmarks
{
    private const string Vin = "LGDCHA1G8MA127733";
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 10, DateTimeKind.Utc);

    private string _publicKey = "";
    private byte[] _signed10 = [];
    private byte[] _message = [];
    private FrameSignature _signature = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        _publicKey = publicKey;
        var t = new DateTime(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc);
        var samples = Enumerable.Range(0, 10).Select(k => Sample.Empty(t.AddSeconds(k)) with
        {
            SpeedKmh = 62.5 + k, EngineSpeedRpm = 1450, EngineTorquePercent = 40, FrictionTorquePercent = 6, FuelFlowLph = 24.35,
            NoxUpstreamPpm = 812.4, NoxDownstreamPpm = 35.2, ReagentLevelPercent = 38.8, ScrInletTempC = 312.5, ScrOutletTempC = 298.03125,
            CoolantTempC = 86, PositionStatus = 0, Longitude = 117.123456, Latitude = 36.654321, OdometerKm = 123456.7,
        }).ToImmutableArray();
        _signed10 = FrameEncoder.Encode(new TelemetryBatch(Vin, FrameKind.RealTime, t, 42, samples, [], Received), TerminalProfile.SignedRecords, 0x11, privateKey);
        // One record as a terminal signs it: type and body of a 37-byte data-stream record.
        _message = new byte[38];
        _message[0] = 0x02;
        Random.Shared.NextBytes(_message.AsSpan(1));
        _signature = Sm2Signatures.Sign(privateKey, _message);
        if (Sm2Signatures.Verify(_publicKey, _message, _signature.R.AsSpan(), _signature.S.AsSpan()) != SignatureFailure.None)
            throw new InvalidOperationException("The benchmark's own signature does not verify.");
        if (!FrameCodec.TryDecodeBatch(_signed10, TerminalProfile.SignedRecords, Vin, Received, _publicKey, out var batch, out var rejection, out _)
            || batch.Samples.Any(s => s.Signature != SignatureCheck.Verified))
            throw new InvalidOperationException($"The signed frame does not decode as verified: {rejection.Message}");
    }

    [Benchmark(Description = "SM2 verify, one 38-byte record")]
    public SignatureFailure VerifyOne() => Sm2Signatures.Verify(_publicKey, _message, _signature.R.AsSpan(), _signature.S.AsSpan());

    [Benchmark(Description = "decode signedRecords 10 records, key registered")]
    public TelemetryBatch? DecodeSignedWithKey()
    {
        FrameCodec.TryDecodeBatch(_signed10, TerminalProfile.SignedRecords, Vin, Received, _publicKey, out var batch, out _, out _);
        return batch;
    }

    [Benchmark(Baseline = true, Description = "decode signedRecords 10 records, no key")]
    public TelemetryBatch? DecodeSignedWithoutKey()
    {
        FrameCodec.TryDecodeBatch(_signed10, TerminalProfile.SignedRecords, Vin, Received, null, out var batch, out _, out _);
        return batch;
    }
}
