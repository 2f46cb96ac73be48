using System.Globalization;
using System.Text;
using Telemetry.Protocol;

namespace Telemetry.Storage.Tests;

public sealed class DecimalTextTests
{
    private static string Text(double value)
    {
        var buffer = new byte[32];
        Assert.True(DecimalText.TryWrite(value, buffer, out var written));
        return Encoding.UTF8.GetString(buffer, 0, written);
    }

    [Fact]
    public void TryWrite_EveryValueTheCodecDecodes_SameTextAsRoundTripFormatting()
    {
        var checkedValues = 0;
        foreach (var scale in SupplementaryFields.Canonical)
        {
            // Every raw value of the small fields; a stride through the 4-byte ones (positions, odometer, totals).
            var step = scale.MaxRaw <= 0xFFFF ? 1u : 9973u;
            for (var raw = 0u; raw <= scale.MaxRaw; raw += step)
            {
                var value = scale.Decode(raw);
                Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), Text(value));
                checkedValues++;
                if (raw > uint.MaxValue - step)
                    break;
            }
        }
        Assert.True(checkedValues > 500_000, $"only {checkedValues} values checked");
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(-0.0, "-0")]
    [InlineData(0.05, "0.05")]
    [InlineData(-0.5, "-0.5")]
    [InlineData(-273.15, "-273.15")]
    [InlineData(0.1 + 0.2, "0.30000000000000004")]
    [InlineData(1.0 / 3, "0.3333333333333333")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1E-05")]
    [InlineData(123456789012.5, "123456789012.5")]
    [InlineData(999999999999999.0, "999999999999999")]
    [InlineData(1e15, "1000000000000000")]
    [InlineData(1e16, "10000000000000000")]
    [InlineData(-1e21, "-1E+21")]
    [InlineData(116.397128, "116.397128")]
    [InlineData(60.5078125, "60.5078125")]
    public void TryWrite_EdgeValues_SameTextAsRoundTripFormatting(double value, string expected)
    {
        Assert.Equal(expected, value.ToString("R", CultureInfo.InvariantCulture));
        Assert.Equal(expected, Text(value));
    }

    [Fact]
    public void TryWrite_RandomValuesAndBitPatterns_SameTextAsRoundTripFormatting()
    {
        var random = new Random(1239);
        for (var i = 0; i < 200_000; i++)
        {
            var value = (i % 3) switch
            {
                0 => Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 16)), random.Next(10)),
                1 => random.NextInt64(-1_000_000_000, 1_000_000_000) / Math.Pow(2, random.Next(12)),
                _ => BitConverter.Int64BitsToDouble(random.NextInt64()),
            };
            if (!double.IsFinite(value))
                continue;
            Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), Text(value));
        }
    }

    [Fact]
    public void TryWrite_DestinationTooSmall_FalseInsteadOfPartialText()
    {
        Assert.False(DecimalText.TryWrite(-273.15, new byte[6], out _));
        Assert.False(DecimalText.TryWrite(116.397128, new byte[5], out _));
        Assert.True(DecimalText.TryWrite(-273.15, new byte[7], out var written));
        Assert.Equal(7, written);
    }
}
