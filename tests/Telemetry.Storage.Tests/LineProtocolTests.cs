namespace Telemetry.Storage.Tests;

public sealed class LineProtocolTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a b", @"a\ b")]
    [InlineData("a,b", @"a\,b")]
    [InlineData("a=b", @"a\=b")]
    [InlineData(@"back\slash\", "back/slash/")]
    [InlineData("line\nbreak\ttab", @"line\ break\ tab")]
    public void EscapeKey_SpecialCharacters_AreEscapedOrReplaced(string raw, string escaped) =>
        Assert.Equal(escaped, LineProtocol.EscapeKey(raw));

    [Fact]
    public void EscapeMeasurement_EqualsSign_IsKept() =>
        Assert.Equal(@"m=1\,x\ y", LineProtocol.EscapeMeasurement("m=1,x y"));

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData(@"C:\dir\", "\"C:\\\\dir\\\\\"")]
    [InlineData("two\nlines", "\"two lines\"")]
    public void QuoteString_QuotesAndBackslashes_AreEscaped(string raw, string quoted) =>
        Assert.Equal(quoted, LineProtocol.QuoteString(raw));

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void FormatFloat_NonFinite_IsNull(double value) => Assert.Null(LineProtocol.FormatFloat(value));

    [Fact]
    public void FormatFloat_Finite_IsInvariantRoundTrip()
    {
        Assert.Equal("0.1", LineProtocol.FormatFloat(0.1));
        Assert.Equal("-273", LineProtocol.FormatFloat(-273));
        Assert.Equal(0.1 + 0.2, double.Parse(LineProtocol.FormatFloat(0.1 + 0.2)!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ToUnixSeconds_BeforeEpochWithFraction_RoundsTowardThePast() =>
        Assert.Equal(-2, LineProtocol.ToUnixSeconds(DateTime.UnixEpoch.AddMilliseconds(-1500)));

    [Fact]
    public void ToUnixSeconds_LocalTime_IsConvertedToUtc()
    {
        var utc = new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(LineProtocol.ToUnixSeconds(utc), LineProtocol.ToUnixSeconds(utc.ToLocalTime()));
    }
}
