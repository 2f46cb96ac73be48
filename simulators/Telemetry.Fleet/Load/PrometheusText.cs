using System.Globalization;

namespace Telemetry.Fleet.Load;

/// <summary>One scrape of a Prometheus text endpoint (the silo's <c>/metrics</c>): samples by metric name.</summary>
public sealed class PrometheusText
{
    private readonly Dictionary<string, List<(string Labels, double Value)>> _samples = new(StringComparer.Ordinal);

    /// <summary>Parses the text exposition format; comments and malformed lines are skipped.</summary>
    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new PrometheusText();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0)
                continue;
            string name;
            var labels = "";
            int valueStart;
            if (brace >= 0 && brace < space)
            {
                var close = line.LastIndexOf('}');
                if (close < brace)
                    continue;
                name = line[..brace];
                labels = line[(brace + 1)..close];
                valueStart = close + 1;
            }
            else
            {
                name = line[..space];
                valueStart = space;
            }
            var rest = line[valueStart..].Trim();
            var end = rest.IndexOf(' ', StringComparison.Ordinal);
            var valueText = end < 0 ? rest : rest[..end];
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                continue;
            if (!result._samples.TryGetValue(name, out var list))
                result._samples[name] = list = [];
            list.Add((labels, value));
        }
        return result;
    }

    /// <summary>True when a metric of this name was exposed.</summary>
    public bool Has(string name) => _samples.ContainsKey(name);

    /// <summary>Sum of every sample of the first of <paramref name="names"/> that is exposed, or null.</summary>
    public double? Sum(params string[] names)
    {
        foreach (var name in names)
        {
            if (_samples.TryGetValue(name, out var list))
                return list.Sum(s => s.Value);
        }
        return null;
    }

    /// <summary>Sums by the value of <paramref name="label"/> (for example rejections by reason).</summary>
    public IReadOnlyDictionary<string, double> ByLabel(string name, string label)
    {
        var result = new SortedDictionary<string, double>(StringComparer.Ordinal);
        if (!_samples.TryGetValue(name, out var list))
            return result;
        var key = label + "=\"";
        foreach (var (labels, value) in list)
        {
            var at = labels.IndexOf(key, StringComparison.Ordinal);
            var text = "";
            if (at >= 0)
            {
                var from = at + key.Length;
                var to = labels.IndexOf('"', from);
                text = to > from ? labels[from..to] : "";
            }
            result[text] = result.GetValueOrDefault(text) + value;
        }
        return result;
    }
}
