using System.Buffers;
using System.Globalization;
using System.Text;
using Telemetry.Abstractions;
using Telemetry.Storage.Journal;

namespace Telemetry.Storage.Tests.Journal;

/// <summary>The binary detail of the <c>adaptive</c> policy's journal records and the lines rendered from it.</summary>
public sealed class DetailBlockTests
{
    private static readonly DateTime Time = new(2026, 3, 1, 8, 30, 15, DateTimeKind.Utc);
    private static readonly SeriesKey Series = new("LGDCHA1G8MA127733", "fleet a,b", "370100");

    private static List<Sample> RandomSamples(int count, int seed)
    {
        var random = new Random(seed);
        double[] awkward = [0.1, -0.0, 1e21, 1e-7, double.Epsilon, double.MaxValue, -double.MaxValue, 1.0 / 3, 123456.789, -200,
            double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        var samples = new List<Sample>();
        for (var i = 0; i < count; i++)
        {
            var sample = Sample.Empty(Time.AddSeconds(i)) with { PositionStatus = (byte)random.Next(256) };
            foreach (var field in SampleFields.All)
            {
                var value = random.Next(5) switch
                {
                    0 => awkward[random.Next(awkward.Length)],
                    1 => BitConverter.Int64BitsToDouble(random.NextInt64()),
                    2 => double.NaN,
                    _ => Math.Round((random.NextDouble() - 0.3) * 2000, random.Next(8)),
                };
                // Every tenth sample has none of the non-core fields (a terminal without the supplementary record).
                sample = field.With(sample, i % 10 == 0 && !AdaptiveFields.Core.Contains(field.Name) ? double.NaN : value);
            }
            samples.Add(sample);
        }
        return samples;
    }

    /// <summary>The text an <c>hdv_detail</c> line of the earlier journal format had, under <c>hdv</c>: what the detail shipper sent.</summary>
    private static string ExpectedDetailLine(Sample sample, long second)
    {
        var fields = SampleFields.All.Where(f => !AdaptiveFields.Core.Contains(f.Name) && double.IsFinite(f.Get(sample)))
            .Select(f => $"{f.Name}={f.Get(sample).ToString("R", CultureInfo.InvariantCulture)}").ToList();
        return fields.Count == 0 ? "" : $@"hdv,vin=LGDCHA1G8MA127733,fleet=fleet\ a\,b,region=370100 {string.Join(',', fields)} {second}";
    }

    [Fact]
    public void WriteAdaptive_AnyValues_DetailRendersTheSameLinesAsBefore_AndTheTextIsTheCoreLines()
    {
        var samples = RandomSamples(300, 1239);
        var buffer = new ArrayBufferWriter<byte>();

        var type = SamplePoints.WriteAdaptive(buffer, Series, samples);

        Assert.Equal(JournalRecordType.PointsWithDetail, type);
        var payload = buffer.WrittenMemory;
        var text = Encoding.UTF8.GetString(DetailBlock.Text(type, payload).Span).Split('\n');
        Assert.Equal(samples.Count, text.Length);
        var head = Encoding.UTF8.GetBytes(@"hdv,vin=LGDCHA1G8MA127733,fleet=fleet\ a\,b,region=370100");
        var core = new byte[head.Length + Utf8SampleLine.MaxFieldBytes];
        for (var i = 0; i < samples.Count; i++)
        {
            var length = Utf8SampleLine.Write(core, head, samples[i], AdaptiveFields.IsCore, withPosition: true);
            Assert.Equal(Encoding.UTF8.GetString(core, 0, length), text[i]);
        }

        var expected = samples.Select((s, i) => ExpectedDetailLine(s, LineProtocol.ToUnixSeconds(Time) + i)).Where(l => l.Length > 0).ToList();
        var rendered = new List<string>();
        var reader = DetailBlock.Read(payload.Span);
        Assert.True(reader.Valid);
        Assert.Equal("LGDCHA1G8MA127733", Encoding.ASCII.GetString(reader.Vin));
        var line = new byte[reader.Head.Length + Utf8SampleLine.MaxFieldBytes];
        while (reader.Next(out var seconds, out var mask, out var values))
            rendered.Add(Encoding.UTF8.GetString(line, 0, Utf8SampleLine.WriteDetail(line, reader.Head, mask, values, seconds)));
        Assert.True(reader.Valid);
        Assert.Equal(expected, rendered);
        Assert.Equal(270, expected.Count); // every tenth sample has no detail field, so no detail line
    }

    [Fact]
    public void WriteAdaptive_NoSampleWithADetailField_IsAPlainPointsRecord()
    {
        var samples = Enumerable.Range(0, 10).Select(i => Sample.Empty(Time.AddSeconds(i)) with { SpeedKmh = 50 + i, CoolantTempC = double.NaN }).ToList();
        var buffer = new ArrayBufferWriter<byte>();

        var type = SamplePoints.WriteAdaptive(buffer, Series, samples);

        Assert.Equal(JournalRecordType.Points, type);
        var lines = Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n');
        Assert.Equal(10, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("hdv,vin=LGDCHA1G8MA127733,", l, StringComparison.Ordinal));
    }

    [Fact]
    public void WriteAdaptive_TakesAboutAThirdOfTheBytesTheDetailLinesTook()
    {
        // Every field present, as a diesel HJ 1239 terminal reports them.
        var samples = Enumerable.Range(0, 10).Select(i => TestData.FullSample(Time.AddSeconds(i), seed: i)).ToList();
        var binary = new ArrayBufferWriter<byte>();
        SamplePoints.WriteAdaptive(binary, Series, samples);
        var lines = new ArrayBufferWriter<byte>();
        SamplePoints.WriteLines(lines, Series, samples);
        var coreText = DetailBlock.Text(JournalRecordType.PointsWithDetail, binary.WrittenMemory).Length;
        var detailLines = samples.Sum(s => ExpectedDetailLine(s, 0).Length - "hdv".Length + "hdv_detail".Length + 1);

        var detail = binary.WrittenCount - coreText;
        Assert.True(detail * 2 < detailLines, $"binary detail {detail} B against {detailLines} B of detail lines");
    }

    [Fact]
    public void Reader_CutOrDamagedBlock_IsInvalidAndNeverThrows()
    {
        var buffer = new ArrayBufferWriter<byte>();
        SamplePoints.WriteAdaptive(buffer, Series, RandomSamples(10, 7));
        var payload = buffer.WrittenSpan.ToArray();
        Assert.True(DetailBlock.TrySplit(payload, out var detailLength));

        for (var cut = 0; cut < 4 + detailLength; cut++)
        {
            var samples = 0;
            var reader = DetailBlock.Read(payload.AsSpan(0, cut));
            while (reader.Next(out _, out _, out _))
                samples++;
            Assert.False(reader.Valid && samples == 10, $"a payload cut at {cut} bytes read as whole");
        }

        // A detail length beyond the payload, or negative.
        var bad = (byte[])payload.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bad, payload.Length);
        Assert.False(DetailBlock.Read(bad).Valid);
        Assert.True(DetailBlock.Text(JournalRecordType.PointsWithDetail, bad).IsEmpty);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bad, -5);
        Assert.False(DetailBlock.Read(bad).Valid);
    }
}
