using System.Collections.Frozen;
using System.Diagnostics;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>
/// A bounded, seeded mutation fuzzer: valid frames of every kind are mutated (bit flips, marker
/// bytes, lying lengths, truncation, insertion, splicing), mostly with a recomputed check code so
/// the mutations reach the data-unit parser. Every result must be a whole decode or a rejection.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Frames = 3_000_000;
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc);
    private static readonly byte[] Interesting = [0x00, 0x01, 0x02, 0x03, 0x7E, 0x7F, 0x80, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF, 0x20, 0x23];

    private static readonly TerminalProfile[] Profiles =
    [
        TerminalProfile.Gb17691 with { AcceptTildeStart = true, SupplementaryRecordLengths = new Dictionary<byte, int> { [0x80] = 5 }.ToFrozenDictionary() },
        TerminalProfile.Hj1239,
        TerminalProfile.Hj1239 with { RequiresSignature = true, TimeEncoding = FrameTimeEncoding.Bcd },
        TerminalProfile.SignedRecords,
        TerminalProfile.Gb17691,
    ];

    private static List<byte[]> Corpus()
    {
        var vin = HandFrames.Vin;
        var t = new DateTime(2026, 11, 28, 9, 0, 0, DateTimeKind.Utc);
        var sample = Sample.Empty(t) with { SpeedKmh = 80, EngineSpeedRpm = 1500, NoxDownstreamPpm = 120, PositionStatus = 0, Longitude = 117.1, Latitude = 36.6, OdometerKm = 1234.5 };
        var obd = new ObdSnapshot { TimeUtc = t, ObdProtocol = 2, MilOn = true, Vin = vin, CalibrationId = "CAL", Cvn = "0xEC40A1BF", Iupr = [.. new byte[36]], Dtcs = [1, 2, 3] };
        var ten = Enumerable.Range(0, 10).Select(k => sample with { TimeUtc = t.AddSeconds(k) }).ToArray();
        var supplementary = ten.Select((x, k) => x with
        {
            EngineTorqueMode = 1, AcceleratorPedalPercent = 40, TotalFuelUsedL = 1234.5 + k, UreaTankTempC = 20,
            UreaDosingMlph = 850.25, TotalUreaUsedG = 56789, DpfExhaustTempC = 412.5,
        }).ToArray();
        var corpus = new List<byte[]>
        {
            HandFrames.Hex(HandFrames.DomainCapture),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, t, 7, [.. ten], [obd], Received), TerminalProfile.Hj1239),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.Reissue, t, 7, [.. ten[..3]], [], Received), Profiles[2]),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, t, 7, [.. ten[..2]], [obd], Received), TerminalProfile.Gb17691),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.Login, t, 1, [], [], Received) { Iccid = "89860012345678901234" }, TerminalProfile.Gb17691),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.Logout, t, 2, [], [], Received), TerminalProfile.Gb17691),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.TimeSync, t, 0, [], [], Received), TerminalProfile.Gb17691),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RemovalAlarm, t, 3, [], [], Received) { AlarmPosition = new GeoFix(-1.5, 2.5, true) }, TerminalProfile.Gb17691),
            HandFrames.Frame(0x02, HandFrames.Time(2026, 11, 28, 17, 0, 0) + "80" + "0001" + "0102030405" + "02" + "0002" + HandFrames.DieselBody()),
            // The records of field firmware: supplementary 0x80, hybrid 0x04 (skipped), fault-code count 0xFE, signed records.
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, t, 7, [.. supplementary], [], Received), TerminalProfile.Hj1239),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, t, 7, [.. supplementary[..3]], [obd], Received), TerminalProfile.SignedRecords),
            FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.Reissue, t, 7, [.. supplementary[..2]], [obd with { Dtcs = [], DtcCountInvalid = true }], Received), TerminalProfile.Gb17691),
            HandFrames.Frame(0x02, HandFrames.Time(2026, 11, 28, 17, 0, 0) + "04" + "0001" + "0102030405060708" + "02" + "0002" + HandFrames.DieselBody()
                + "80" + "0003" + "01" + "7D" + "00001000" + "3C" + "00002710" + "00000400" + "2F40"),
        };
        return corpus;
    }

    [Fact]
    public void Decode_MillionsOfMutatedFrames_NeverThrowAndAreWholeOrRejected()
    {
        var corpus = Corpus();
        var random = new Random(20261128);
        var decoder = new PayloadDecoder(new ProtocolOptions { MaxFutureSkew = null });
        var buffer = new byte[FrameCodec.MaxFrameLength + 64];
        int decoded = 0, rejected = 0;
        var reasons = new Dictionary<RejectReason, int>();
        var watch = Stopwatch.StartNew();

        for (var i = 0; i < Frames; i++)
        {
            var length = Mutate(random, corpus, buffer);
            var frame = buffer.AsSpan(0, length);
            var profile = Profiles[i % Profiles.Length];
            bool okBatch, okFrame;
            TelemetryBatch? batch;
            Frame? full;
            Rejection rejection, frameRejection;
            try
            {
                okBatch = FrameCodec.TryDecodeBatch(frame, profile, null, Received, out batch, out rejection);
                okFrame = FrameCodec.TryDecode(frame, profile, out full, out frameRejection);
            }
            catch (Exception ex)
            {
                Assert.Fail($"Frame {i} ({Convert.ToHexString(frame)}) with profile {profile.Name} threw {ex}");
                return;
            }

            Assert.Equal(okBatch, okFrame);
            if (okBatch)
            {
                decoded++;
                Assert.NotNull(batch);
                Assert.NotNull(full);
                Assert.False(batch.Samples.IsDefault);
                Assert.False(batch.Obd.IsDefault);
                // Whole: what was decoded can be written again and reads back the same.
                var again = FrameCodec.Encode(full, profile);
                Assert.True(FrameCodec.TryDecodeBatch(again, profile, null, Received, out var reread, out var rr), rr.ToString());
                BatchAssert.Equal(batch, reread);
            }
            else
            {
                rejected++;
                Assert.Null(batch);
                Assert.Equal(rejection.Reason, frameRejection.Reason);
                Assert.True(Enum.IsDefined(rejection.Reason) && rejection.Reason != RejectReason.InternalError, rejection.ToString());
                Assert.False(string.IsNullOrEmpty(rejection.Message));
                reasons[rejection.Reason] = reasons.GetValueOrDefault(rejection.Reason) + 1;
            }

            if (i % 16 == 0)
            {
                Assert.False(decoder.TryDecode("json", HandFrames.Vin, frame, Received, out _, out var jsonRejection) && false);
                Assert.NotEqual(RejectReason.InternalError, jsonRejection.Reason);
            }
        }

        output.WriteLine($"{Frames} mutated frames in {watch.Elapsed.TotalSeconds:F1} s: {decoded} decoded, {rejected} rejected");
        foreach (var (reason, count) in reasons.OrderByDescending(p => p.Value))
            output.WriteLine($"  {reason}: {count}");
        Assert.True(decoded > 1000, "the mutator should leave many frames decodable");
        Assert.True(reasons.Count >= 10, $"the mutator should reach most rejection reasons; it reached {string.Join(", ", reasons.Keys)}");
    }

    [Fact]
    public void DecodeAll_ConcatenatedMutatedFrames_CoverThePayloadAndEachIsWholeOrRejected()
    {
        var corpus = Corpus();
        var random = new Random(1239);
        var decoder = new PayloadDecoder(new ProtocolOptions { MaxFutureSkew = null });
        var buffer = new byte[FrameCodec.MaxFrameLength + 64];
        int decoded = 0, rejected = 0;
        foreach (var format in new[] { "gb17691", "hj1239", "signedRecords" })
        {
            var profile = decoder.TryGetProfile(format, out var p) ? p : throw new InvalidOperationException(format);
            for (var i = 0; i < 30_000; i++)
            {
                var payload = new List<byte>();
                var count = 1 + random.Next(4);
                for (var f = 0; f < count; f++)
                {
                    // Most frames stay intact so that mutated ones sit between good ones.
                    var source = random.Next(3) == 0 ? buffer.AsSpan(0, Mutate(random, corpus, buffer)).ToArray() : corpus[random.Next(corpus.Count)];
                    payload.AddRange(source);
                }
                var bytes = payload.ToArray();
                IReadOnlyList<PayloadFrame> frames;
                try
                {
                    frames = decoder.DecodeAll(format, HandFrames.Vin, bytes, Received);
                }
                catch (Exception ex)
                {
                    Assert.Fail($"Payload {Convert.ToHexString(bytes)} ({format}) threw {ex}");
                    return;
                }
                var offset = 0;
                foreach (var frame in frames)
                {
                    Assert.Equal(offset, frame.Offset);
                    Assert.True(frame.Length > 0 || bytes.Length == 0, "only an empty payload is an empty piece");
                    offset += frame.Length;
                    var piece = bytes.AsSpan(frame.Offset, frame.Length);
                    var single = FrameCodec.TryDecodeBatch(piece, profile, HandFrames.Vin, Received, out var batch, out var rejection);
                    Assert.Equal(single, frame.Decoded);
                    if (frame.Decoded)
                    {
                        decoded++;
                        BatchAssert.Equal(batch!, frame.Batch);
                    }
                    else
                    {
                        rejected++;
                        Assert.NotEqual(RejectReason.InternalError, frame.Rejection.Reason);
                        Assert.Equal(rejection.Reason, frame.Rejection.Reason);
                    }
                }
                Assert.Equal(bytes.Length, offset);
            }
        }
        output.WriteLine($"Concatenated payloads: {decoded} frames decoded, {rejected} rejected");
        Assert.True(decoded > 10_000 && rejected > 1_000);
    }

    [Fact]
    public void DecodeJson_MutatedMessages_NeverThrowAndIsWholeOrRejected()
    {
        var random = new Random(17691);
        var decoder = new PayloadDecoder(new ProtocolOptions { MaxFutureSkew = null });
        var seeds = Corpus().Take(8).Select(bytes =>
        {
            Assert.True(FrameCodec.TryDecodeBatch(bytes, TerminalProfile.Gb17691, null, Received, out var b, out _)
                || FrameCodec.TryDecodeBatch(bytes, TerminalProfile.Hj1239, null, Received, out b, out _)
                || FrameCodec.TryDecodeBatch(bytes, Profiles[2], null, Received, out b, out _));
            return JsonFrameFormat.Encode(b);
        }).ToList();
        int decoded = 0, rejected = 0;
        var buffer = new byte[1 << 16];
        for (var i = 0; i < 100_000; i++)
        {
            var length = Mutate(random, seeds, buffer, recomputeCheckCode: false);
            var ok = decoder.TryDecode("json", HandFrames.Vin, buffer.AsSpan(0, length), Received, out var batch, out var rejection);
            if (ok)
            {
                decoded++;
                Assert.NotNull(batch);
            }
            else
            {
                rejected++;
                Assert.True(rejection.Reason != RejectReason.InternalError, rejection.Message);
                Assert.False(string.IsNullOrEmpty(rejection.Message), Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
        output.WriteLine($"JSON: {decoded} decoded, {rejected} rejected");
        Assert.True(decoded > 0 && rejected > 0);
    }

    private static int Mutate(Random random, List<byte[]> corpus, byte[] buffer, bool recomputeCheckCode = true)
    {
        var source = corpus[random.Next(corpus.Count)];
        var length = source.Length;
        source.CopyTo(buffer, 0);
        var mutations = 1 + random.Next(4);
        for (var m = 0; m < mutations; m++)
        {
            switch (random.Next(11))
            {
                case 0 when length > 0:
                    buffer[random.Next(length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when length > 0:
                    buffer[random.Next(length)] = (byte)random.Next(256);
                    break;
                case 2 when length > 0:
                    buffer[random.Next(length)] = Interesting[random.Next(Interesting.Length)];
                    break;
                case 3:
                    length = random.Next(length + 1);
                    break;
                case 4:
                {
                    var extra = random.Next(1, 64);
                    random.NextBytes(buffer.AsSpan(length, extra));
                    length += extra;
                    break;
                }
                case 5 when length > 0:
                {
                    var at = random.Next(length);
                    Array.Copy(buffer, at, buffer, at + 1, length - at);
                    buffer[at] = (byte)random.Next(256);
                    length++;
                    break;
                }
                case 6 when length > 1:
                {
                    var at = random.Next(length);
                    Array.Copy(buffer, at + 1, buffer, at, length - at - 1);
                    length--;
                    break;
                }
                case 7 when length >= FrameCodec.HeaderLength:
                {
                    // A lying length field.
                    var value = random.Next(3) switch { 0 => random.Next(65536), 1 => length - FrameCodec.Overhead + random.Next(-3, 4), _ => 0xFFFF };
                    buffer[22] = (byte)(value >> 8);
                    buffer[23] = (byte)value;
                    break;
                }
                case 8 when length > 30:
                {
                    // Duplicate a chunk (more records than the length says, or repeated records).
                    var start = 24 + random.Next(length - 24);
                    var count = Math.Min(random.Next(1, 48), length - start);
                    Array.Copy(buffer, start, buffer, length, count);
                    length += count;
                    break;
                }
                case 9:
                {
                    // Splice the tail of another frame.
                    var other = corpus[random.Next(corpus.Count)];
                    var cut = random.Next(Math.Min(length, other.Length) + 1);
                    other.AsSpan(cut).CopyTo(buffer.AsSpan(cut));
                    length = other.Length;
                    break;
                }
                default:
                    if (length > 24)
                    {
                        // Fix the length field to the bytes present, so the data-unit parser sees the mutation.
                        var value = length - FrameCodec.Overhead;
                        buffer[22] = (byte)(value >> 8);
                        buffer[23] = (byte)value;
                    }
                    break;
            }
        }
        if (recomputeCheckCode && length >= 3 && random.Next(10) < 8)
        {
            byte bcc = 0;
            for (var i = 2; i < length - 1; i++)
                bcc ^= buffer[i];
            buffer[length - 1] = bcc;
        }
        return length;
    }
}
