using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>The hand-written hot decoder agrees bit for bit with the field scales (true division) over every raw value.</summary>
public sealed class FieldScaleTests
{
    private static readonly DateTime Time = new(2026, 11, 28, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Read_EveryRawValueOfOneAndTwoByteFields_MatchesTheScale()
    {
        var body = new byte[RecordTypes.DieselStreamLength];
        for (var i = 0; i < 18; i++)
        {
            var scale = DieselFields.All[i];
            if (scale.Size == 4)
                continue;
            for (uint raw = 0; raw <= scale.NotAvailable; raw++)
            {
                Write(body, scale, raw);
                var value = SampleFields.All[i].Get(DieselFields.Read(body, Time));
                if (BitConverter.DoubleToInt64Bits(scale.Decode(raw)) != BitConverter.DoubleToInt64Bits(value))
                    Assert.Fail($"{scale.Name} raw {raw}: {value} instead of {scale.Decode(raw)}");
            }
        }
    }

    [Fact]
    public void Read_ManyOdometerValuesAndCoordinates_MatchTheScale()
    {
        var body = new byte[RecordTypes.DieselStreamLength];
        var random = new Random(1239);
        foreach (var index in new[] { 15, 16, 17 })
        {
            var scale = DieselFields.All[index];
            var raws = Enumerable.Range(0, 1_000_000).Select(r => (uint)r)
                .Concat(Enumerable.Range(0, 1_000_000).Select(_ => (uint)random.NextInt64(0, scale.MaxRaw + 1)))
                .Concat(Enumerable.Range(0, 1000).Select(k => scale.MaxRaw - (uint)k));
            foreach (var raw in raws.Append(scale.MaxRaw + 1).Append(0xFAFF_FFFF).Append(0xFFFF_FFFF))
            {
                Write(body, scale, raw);
                var value = SampleFields.All[index].Get(DieselFields.Read(body, Time));
                if (BitConverter.DoubleToInt64Bits(scale.Decode(raw)) != BitConverter.DoubleToInt64Bits(value))
                    Assert.Fail($"{scale.Name} raw {raw}: {value} instead of {scale.Decode(raw)}");
            }
        }
    }

    [Fact]
    public void Encode_EveryDecodedValue_GivesTheRawValueBack()
    {
        foreach (var scale in DieselFields.All.Where(s => s.Size < 4))
        {
            for (uint raw = 0; raw <= scale.MaxRaw; raw++)
            {
                if (scale.Encode(scale.Decode(raw)) != raw)
                    Assert.Fail($"{scale.Name} raw {raw} encodes back to {scale.Encode(scale.Decode(raw))}");
            }
        }
    }

    [Fact]
    public void Encode_ValueOutsideTheRange_ThrowsNamingTheField()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => DieselFields.Speed.Encode(251));
        Assert.Contains("speedKmh", ex.Message, StringComparison.Ordinal);
    }

    private static void Write(byte[] body, FieldScale scale, uint raw)
    {
        for (var k = 0; k < scale.Size; k++)
            body[scale.Offset + k] = (byte)(raw >> (8 * (scale.Size - 1 - k)));
    }
}
