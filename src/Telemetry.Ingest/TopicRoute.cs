namespace Telemetry.Ingest;

/// <summary>A parsed terminal topic <c>{prefix}/{vin}/{format}</c>.</summary>
public readonly record struct TopicRoute(string Vin, string Format)
{
    /// <summary>Parses <paramref name="topic"/>; false when it does not have exactly the three levels.</summary>
    public static bool TryParse(string topic, string prefix, out TopicRoute route)
    {
        route = default;
        var span = topic.AsSpan();
        if (!span.StartsWith(prefix, StringComparison.Ordinal) || span.Length <= prefix.Length || span[prefix.Length] != '/')
        {
            return false;
        }
        var rest = span[(prefix.Length + 1)..];
        var slash = rest.IndexOf('/');
        if (slash <= 0 || slash == rest.Length - 1 || rest[(slash + 1)..].Contains('/'))
        {
            return false;
        }
        route = new TopicRoute(rest[..slash].ToString(), rest[(slash + 1)..].ToString());
        return true;
    }
}
