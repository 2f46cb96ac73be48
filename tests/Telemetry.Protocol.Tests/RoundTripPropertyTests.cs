using CsCheck;

namespace Telemetry.Protocol.Tests;

/// <summary>encode then decode gives back what was encoded, for every message kind, both layouts and the profile options.</summary>
public sealed class RoundTripPropertyTests
{
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc);

    public static TheoryData<string> ProfileNames => [.. Generators.Profiles.Select(p => p.Name)];

    private static TerminalProfile Profile(string name) => Generators.Profiles.Single(p => p.Name == name);

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public void EncodeThenDecode_AnyBatch_GivesTheBatchBack(string profileName)
    {
        var profile = Profile(profileName);
        Generators.Batch(profile, Received).Sample(batch =>
        {
            var bytes = FrameEncoder.Encode(batch, profile, 0x02);
            Assert.True(FrameCodec.TryDecodeBatch(bytes, profile, batch.Vin, Received, out var decoded, out var rejection), rejection.ToString());
            BatchAssert.Equal(Generators.AsDecodedWithoutKey(batch, profile), decoded);
            Assert.Equal(profile.WriteTildeStart ? 0x7E : 0x23, bytes[0]);
            Assert.Equal(0x02, bytes[20]);
        }, iter: 400, threads: 1);
    }

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public void EncodeThenDecode_AnyDataFrame_GivesTheSameBytesBack(string profileName)
    {
        var profile = Profile(profileName) with { SupplementaryRecordLengths = Generators.SupplementaryProfile.SupplementaryRecordLengths };
        Generators.DataFrame(profile).Sample(frame =>
        {
            var bytes = FrameCodec.Encode(frame, profile);
            Assert.True(FrameCodec.TryDecode(bytes, profile, out var decoded, out var rejection), rejection.ToString());
            Assert.Equal(frame.Records.Length, decoded.Records.Length);
            Assert.Equal(frame.Records.Select(r => r.Type), decoded.Records.Select(r => r.Type));
            Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(FrameCodec.Encode(decoded, profile)));
            Assert.Equal(frame.Signature is null, decoded.Signature is null);
        }, iter: 300, threads: 1);
    }

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public void DecodeFrameThenToBatch_EqualsTheDirectBatchDecode(string profileName)
    {
        var profile = Profile(profileName);
        Generators.Batch(profile, Received).Sample(batch =>
        {
            var bytes = FrameEncoder.Encode(batch, profile);
            Assert.True(FrameCodec.TryDecode(bytes, profile, out var frame, out _));
            Assert.True(FrameCodec.TryDecodeBatch(bytes, profile, null, Received, out var direct, out _));
            BatchAssert.Equal(direct, frame.ToBatch(Received));
        }, iter: 200, threads: 1);
    }

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public void JsonEncodeThenDecode_AnyBatch_GivesTheBatchBack(string profileName)
    {
        var profile = Profile(profileName);
        Generators.Batch(profile, Received).Sample(batch =>
        {
            var json = JsonFrameFormat.Encode(batch);
            Assert.True(JsonFrameFormat.TryDecode(json, Received, 1000, out var decoded, out var rejection), rejection.ToString());
            BatchAssert.Equal(batch, decoded);
        }, iter: 200, threads: 1);
    }
}
